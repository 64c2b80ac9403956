// The sign-in form: a crawler token, checked against the server before it is kept.

import * as api from '../api.js';
import { $, show } from '../dom.js';

/** Wire the form; onSignedIn() runs once the server has accepted the token. */
export function setUp(onSignedIn) {
  $('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!value) return;
    const button = event.target.querySelector('button');
    button.disabled = true;
    api.setToken(value);
    try {
      await api.get(api.paths.sessions('perPage=1'));
      $('token-input').value = '';
      show($('signin-error'), '');
      onSignedIn();
    } catch (error) {
      api.setToken(null);
      // The server's message says what is wrong and what to use instead (an rtc-only token:
      // "... use a token with the 'crawler' role"); it is shown as it is, once.
      show($('signin-error'), error.message);
    } finally {
      button.disabled = false;
    }
  });
}
