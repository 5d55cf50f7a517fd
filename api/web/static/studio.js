// A photographer's events, and the form that creates one.
import { api, h, pagedList, requireStaff, show, showError, toast, when } from "/static/app.js";

const { token } = await requireStaff();
const list = document.getElementById("events");

const events = pagedList({
  token,
  path: "/api/events?limit=50",
  list,
  more: document.getElementById("more-events"),
  onPage: (page) => show(document.getElementById("events-empty"), page.count === 0),
  render: (event) =>
    h("li", { class: "card event-item" },
      h("a", { href: `/studio/events/${event.id}`, class: "event-link" },
        h("strong", {}, event.name),
        h("span", { class: "code" }, event.code),
        h("span", { class: `badge ${event.status}` }, event.status),
        h("span", { class: "muted small" }, `created ${when(event.created_at)}`))),
});

document.getElementById("create-event").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.currentTarget);
  const error = document.getElementById("create-error");
  showError(error, null);
  const body = { name: form.get("name") };
  if (form.get("tolerance")) body.tolerance = Number(form.get("tolerance"));
  try {
    const created = await api("/api/events", { method: "POST", token, json: body });
    location.href = `/studio/events/${created.id}`;
  } catch (err) {
    showError(error, err);
  }
});

if (new URLSearchParams(location.search).has("deleted")) toast("The event and everything in it were deleted.");
events.reload();
