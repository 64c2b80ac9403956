// VideoSDK's NodeJS example of "Fetch Participant Quality Stats"
// (data/fetch-session-peer-quality-stats.json), unchanged but for the base URL, the token and
// the ids from the environment, and the output printed as JSON to be parsed. The page's code
// declares only sessionId (its generator declares the first ${...} of the URL alone), so
// participantId is declared here too: without it the page's code is a ReferenceError.
import fetch from 'node-fetch';
const options = {
	method: "GET",
	headers: {
		"Authorization": process.env.YOUR_TOKEN,
		"Content-Type": "application/json",
	},
};
const sessionId = process.env.SESSION_ID;
const participantId = process.env.PARTICIPANT_ID;
const url= `${process.env.BASE_URL}/v2/sessions/${sessionId}/participant/${participantId}/stats`;
const response = await fetch(url, options);
const data = await response.json();
console.log(JSON.stringify(data));
