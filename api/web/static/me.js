// "My events": every event the account joined, from any attendee session this browser holds.
import { ApiError, api, deletedCounts, h, plural, show, showError, t, tokens } from "/static/app.js";

const $ = (id) => document.getElementById(id);

function storedTokens() {
  return Object.keys(localStorage)
    .filter((key) => key.startsWith("facematch.attendee."))
    .map((key) => localStorage.getItem(key));
}

async function signedIn() {
  for (const token of storedTokens()) {
    try {
      return { token, events: await api("/api/me/events", { token }) };
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
  }
  return null;
}

async function open(token, event) {
  const session = await api(`/api/me/events/${event.event_id}/session`, { method: "POST", token });
  tokens.setAttendee(session.event_code, session.access_token);
  location.assign(`/e/${session.event_code}`);
}

async function main() {
  let found;
  try {
    found = await signedIn();
  } catch (error) {
    return showError($("me-error"), error);
  }
  if (!found) return show($("me-signed-out"));
  show($("me-danger"));
  $("my-events").replaceChildren(...found.events.data.map((event) => h("li", { dataset: { code: event.code } },
    h("button", { type: "button", class: "link", onclick: () => open(found.token, event).catch((e) => showError($("me-error"), e)) },
      event.name),
    h("span", { class: "muted small" }, ` ${event.code} · ${event.status}`),
    h("span", { class: "badge" }, plural(event.photos, t("{n} photo", { n: event.photos }), t("{n} photos", { n: event.photos }))))));
  $("delete-everywhere").addEventListener("click", async () => {
    if (!confirm(t("Delete your selfies, face encodings and matches at every event?"))) return;
    try {
      const deleted = await api("/api/me/face-data?every_event=true", { method: "DELETE", token: found.token });
      $("deleted-everywhere").textContent = t("Deleted {list}.", { list: deletedCounts({ encodings: deleted.encodings, matches: deleted.matches }) });
      show($("deleted-everywhere"));
    } catch (error) {
      showError($("me-error"), error);
    }
  });
}

main();
