// Where a mailed sign-in link lands: spend its token (from the URL's fragment, which the
// browser never sends) for a session on this device, then on to the event's page.
import { api, lang, show, showError, t, tokens } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const TITLES = {
  link_used: t("This link was used already"),
  link_expired: t("This link has expired"),
  invalid_link: t("This link is not valid"),
  event_not_found: t("This event no longer exists"),
  event_closed: t("This event closed before you confirmed"),
  rate_limited: t("Too many tries"),
};

function failed(error) {
  $("signin-title").textContent = TITLES[error.code] || t("We could not sign you in");
  show($("signin-status"), false);
  showError($("signin-error"), error);
  show($("signin-failed"));
}

async function redeem() {
  const token = location.hash.slice(1);
  history.replaceState(null, "", location.pathname);  // the token leaves the address bar
  if (!token) return failed(new Error(t("This page needs the link from your mail.")));
  try {
    const signedIn = await api("/api/sign-in-link/redeem", { method: "POST", json: { token } });
    tokens.setAttendee(signedIn.event_code, signedIn.access_token);
    location.replace(`/e/${signedIn.event_code}`);
  } catch (error) {
    failed(error);
  }
}

$("new-link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = new FormData(event.currentTarget).get("email");
  try {
    await api("/api/sign-in-link", { method: "POST", json: { email, locale: lang } });
    $("new-link-sent").textContent = t("Check your mail: if this address may sign in here, a link is on its way.");
    show($("new-link-sent"));
  } catch (error) {
    showError($("signin-error"), error);
  }
});

redeem();
