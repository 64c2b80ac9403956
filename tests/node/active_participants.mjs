// VideoSDK's NodeJS example of "Fetch Active Participants" (data/fetch-active-participants.json),
// unchanged but for the base URL, the token and the session id from the environment, and the
// output printed as JSON to be parsed.
import fetch from 'node-fetch';
const options = {
	method: "GET",
	headers: {
		"Authorization": process.env.YOUR_TOKEN,
		"Content-Type": "application/json",
	},
};
const sessionId = process.env.SESSION_ID;
const url= `${process.env.BASE_URL}/v2/sessions/${sessionId}/participants/active`;
const response = await fetch(url, options);
const data = await response.json();
console.log(JSON.stringify(data));
