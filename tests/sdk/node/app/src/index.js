// The app the source-map tests bundle and minify with esbuild: it reports
// one exception through the real @sentry/node and prints its event id.
import * as Sentry from "@sentry/node";
import { computeTotal } from "./math.js";

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: process.env.SENTRY_RELEASE || undefined,
  dist: process.env.SENTRY_DIST || undefined,
  spotlight: false,
  sendClientReports: false,
});

let accepted = false;
Sentry.getClient().on("afterSendEvent", (_event, response) => {
  const status = response && response.statusCode;
  accepted = status >= 200 && status < 300;
});

function checkout() {
  const items = [
    { price: 3, qty: 2 },
    { price: -1, qty: 1 },
  ];
  return computeTotal(items);
}

async function main() {
  try {
    checkout();
  } catch (err) {
    console.log(Sentry.captureException(err));
  }
  if (!(await Sentry.close(5000)) || !accepted) {
    console.error("the event was not accepted");
    process.exitCode = 1;
  }
}

main();
