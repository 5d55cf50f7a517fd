// The admin's view: queues and workers (live), users, events.
import { api, h, poll, requireStaff, showError, when } from "/static/app.js";

const { token } = await requireStaff(["admin"]);
const $ = (id) => document.getElementById(id);

async function refreshQueues() {
  const stats = await api("/api/admin/queues", { token });
  $("queues").replaceChildren(
    h("div", {}, h("dt", {}, "Workers"), h("dd", { dataset: { stat: "workers" } }, String(stats.workers))),
    ...Object.entries(stats.queues).map(([name, depth]) =>
      h("div", {}, h("dt", {}, `${name} queue`), h("dd", { dataset: { stat: `queue-${name}` } }, String(depth)),
        h("small", { class: stats.failed[name] ? "error" : "muted" }, `${stats.failed[name] ?? 0} failed`))),
  );
  $("workers").replaceChildren(
    ...stats.worker_list.map((w) =>
      h("tr", {},
        h("td", {}, w.name, h("br"), h("small", { class: "muted" }, `${w.hostname ?? ""} pid ${w.pid ?? "?"}`)),
        h("td", {}, h("span", { class: `badge ${w.state}` }, w.state)),
        h("td", {}, w.queues.join(", ")),
        h("td", { class: "small" }, w.current_job ?? "–"),
        h("td", {}, `${w.successful_jobs} / ${w.failed_jobs}`),
        h("td", { class: "small" }, when(w.last_heartbeat)))),
  );
  return true;
}

async function loadUsers() {
  const users = await api("/api/admin/users?limit=200", { token });
  $("user-count").textContent = String(users.count);
  $("users").replaceChildren(
    ...users.data.map((u) => h("tr", {}, h("td", {}, u.email), h("td", {}, u.role), h("td", {}, when(u.created_at)))),
  );
}

async function loadEvents() {
  const events = await api("/api/events?limit=200", { token });
  $("event-count").textContent = String(events.count);
  $("admin-events").replaceChildren(
    ...events.data.map((e) =>
      h("tr", {},
        h("td", {}, h("a", { href: `/studio/events/${e.id}` }, e.name)),
        h("td", { class: "code" }, e.code),
        h("td", {}, e.status),
        h("td", {}, String(e.tolerance)),
        h("td", {}, when(e.created_at)))),
  );
}

$("create-user").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  showError($("user-error"), null);
  try {
    await api("/api/admin/users", {
      method: "POST",
      token,
      json: { email: data.get("email"), password: data.get("password"), role: data.get("role") },
    });
    form.reset();
    await loadUsers();
  } catch (error) {
    showError($("user-error"), error);
  }
});

poll(refreshQueues, { min: 5000, max: 5000 });
loadUsers();
loadEvents();
