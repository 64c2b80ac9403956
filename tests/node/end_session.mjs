// VideoSDK's NodeJS example of "End Session" (data/end-session.json), unchanged but for the base
// URL, the token and the roomId from the environment, and the output printed as JSON to be
// parsed. Two slips of the page's generated code are corrected, or it would not run at all:
// it calls JSON.stringyfy (a TypeError; JSON.stringify is meant), and that page's data lists
// no headers, while its Authorization section requires the token in Authorization, as every
// other endpoint's example sends it.
import fetch from 'node-fetch';
const options = {
	method: "POST",
	headers: {
		"Authorization": process.env.YOUR_TOKEN,
		"Content-Type": "application/json",
	},
	body: JSON.stringify({"roomId" : process.env.ROOM_ID}),
};
const url= `${process.env.BASE_URL}/v2/sessions/end`;
const response = await fetch(url, options);
const data = await response.json();
console.log(JSON.stringify(data));
