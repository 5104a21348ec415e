// A shop page that crashes and asks the user what happened, with the
// official browser SDK: captureException, then showReportDialog, which
// loads Faultline's crash-report page. The DSN comes in the URL's hash.
// e2e::feedback bundles this with esbuild; tests/browser/report_dialog.py
// drives it in headless Chromium.
import * as Sentry from '@sentry/browser';

Sentry.init({ dsn: decodeURIComponent(location.hash.slice(1)), defaultIntegrations: false });
const eventId = Sentry.captureException(new Error('Checkout crashed'));
document.body.dataset.eventId = eventId;
Sentry.showReportDialog({
  eventId,
  title: 'Sorry, <b>checkout</b> broke.',
  user: { name: 'Ann Lee', email: 'ann@example.com' },
  onClose() {
    document.body.dataset.closed = 'yes';
  },
});
