// VideoSDK's NodeJS example (shared/seed/fetch-session-quality-stats.txt), unchanged but for
// the base URL, the token and the session id, which come from the environment.
import fetch from 'node-fetch';
const options = {
	method: "GET",
	headers: {
		"Authorization": process.env.YOUR_TOKEN,
		"Content-Type": "application/json",
	},
};
const sessionId = process.env.SESSION_ID;
const url= `${process.env.BASE_URL}/v2/sessions/${sessionId}/stats`;
const response = await fetch(url, options);
const data = await response.json();
console.log(JSON.stringify(data));
