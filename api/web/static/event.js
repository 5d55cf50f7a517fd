// One event for its photographer: QR code, bulk upload, live progress, photos with face boxes.
import { ApiError, api, describe, h, lazyImage, percent, poll, requireStaff, saveLink, show, showError, toast } from "/static/app.js";

const { token } = await requireStaff();
const $ = (id) => document.getElementById(id);
const eventId = $("event").dataset.eventId;
const PAGE = 48;
const PARALLEL_UPLOADS = 3;
const MAX_ATTEMPTS = 4;

// --- the event and its progress -------------------------------------------------------

let lastProgress = "";
let lastCounts = "";

async function refreshEvent() {
  let event;
  try {
    event = await api(`/api/events/${eventId}`, { token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) location.replace(`/login?next=${location.pathname}&expired=1`);
    if (error instanceof ApiError && error.status === 404 && deleting) {
      location.replace("/studio?deleted=1");  // gone: its deletion is done
      return "stop";
    }
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      $("event-name").textContent = error.message;
      return "stop";
    }
    throw error;
  }
  renderHead(event);
  const p = event.progress;
  $("rematch-status").textContent = p.rematch_pending ? "Rematch running…" : "Matches are up to date.";
  const snapshot = JSON.stringify(p);
  if (snapshot === lastProgress) return false;
  lastProgress = snapshot;
  const stats = {
    ...p,
    photos_waiting: p.photos_pending + p.photos_indexing,
    match_rate: percent(p.match_rate),
  };
  for (const node of document.querySelectorAll("[data-stat]")) node.textContent = String(stats[node.dataset.stat] ?? 0);
  const done = p.photos_indexed + p.photos_failed;
  $("index-progress").max = Math.max(1, p.photos_total);
  $("index-progress").value = done;
  const counts = `${p.photos_total}/${p.photos_indexed}/${p.photos_failed}/${p.photos_indexing}`;
  if (counts !== lastCounts) {
    lastCounts = counts;
    scheduleGridRefresh();
  }
  return true;
}

let headDone = false;
let photographersLoaded = false;
let deleting = false;
function renderHead(event) {
  // A contributor uploads and sees the counts and their own photos; the rest is the owner's.
  $("event").classList.toggle("contributor", event.your_role === "contributor");
  if (event.your_role !== "contributor" && !photographersLoaded) loadPhotographers();
  $("event-status").textContent = event.status;
  $("event-status").className = `badge ${event.status}`;
  const open = event.status === "open";
  deleting = event.status === "deleting";
  show($("dropzone"), open);
  show($("closed-note"), event.status === "closed");
  $("toggle-status").textContent = open ? "Close event" : "Reopen event";
  $("toggle-status").dataset.next = open ? "closed" : "open";
  show($("toggle-status"), !deleting);
  for (const id of ["tolerance-form", "retention-form", "delete-form"]) show($(id), !deleting);
  show($("deleting-note"), deleting);
  $("deleting-left").textContent = deleting ? `${event.progress.photos_total} photos left` : "";
  const deletesAt = event.deletes_at ? new Date(event.deletes_at) : null;
  $("deletes-at").textContent = deletesAt ? `The event will be deleted on ${deletesAt.toLocaleDateString()}.` : "";
  show($("deletes-at"), Boolean(deletesAt) && !deleting);
  if (document.activeElement !== $("retention-days")) $("retention-days").value = event.retention_days ?? "";
  if (!$("joining-form").contains(document.activeElement)) {
    $("selfie-upload").checked = event.selfie_upload;
    $("joining-summary").textContent = event.selfie_upload ? "live or uploaded" : "live only";
    $("auto-close-days").value = event.auto_close_days ?? "";
  }
  if (headDone) return;
  headDone = true;
  document.title = `${event.name} · facematch`;
  $("event-name").textContent = event.name;
  $("event-code").textContent = event.code;
  $("join-link").textContent = event.join_url;
  $("join-link").href = event.join_url;
  $("qr").src = `/e/${event.code}/qr.svg`;
  $("qr-png").href = `/e/${event.code}/qr.png?download=1`;
  $("qr-svg").href = `/e/${event.code}/qr.svg?download=1`;
  $("tolerance").value = event.tolerance;
  if (!$("preview-tolerance").value) $("preview-tolerance").value = event.tolerance;
  renderRace(event);
  renderBrand(event);
  if (event.your_role !== "contributor") {
    loadWebhook().catch((error) => toast(error.message));
    loadGallery().catch((error) => toast(error.message));
  }
  if (event.your_role !== "contributor") loadHeld().catch((error) => toast(error.message));
}

function renderRace(event) {
  $("bibs-enabled").checked = event.bibs_enabled;
  $("bib-min").value = event.bib_min ?? "";
  $("bib-max").value = event.bib_max ?? "";
  $("bib-search").value = event.bib_search;
  $("race-summary").textContent = event.bibs_enabled
    ? `bib numbers read · ${event.bib_search === "open" ? "open search" : "by the runner's link"}`
    : "bib numbers off";
}

function renderBrand(event) {
  $("accent-color").value = event.accent_color || "#2957d8";
  $("welcome-text").value = event.welcome_text || "";
  $("watermark").checked = event.watermark;
  $("watermark-text").value = event.watermark_text || "";
  $("originals-downloadable").checked = event.originals_downloadable;
  $("zips-allowed").checked = event.zips_allowed;
  const logo = $("brand-logo-preview");
  if (event.logo_url) logo.src = event.logo_url;
  show(logo, Boolean(event.logo_url));
  show($("brand-logo-remove"), Boolean(event.logo_url));
  const rules = [event.watermark ? "watermarked" : null,
    event.originals_downloadable ? "originals" : "previews only",
    event.zips_allowed ? "zips" : "no zips"];
  $("brand-summary").textContent = rules.filter(Boolean).join(" · ");
}

$("brand-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("brand-logo-file").files[0];
  try {
    if (file) {
      const form = new FormData();
      form.append("file", file);
      await api(`/api/events/${eventId}/logo`, { method: "PUT", token, form });
      $("brand-logo-file").value = "";
    }
    const json = { accent_color: $("accent-color").value, welcome_text: $("welcome-text").value.trim() || null,
      watermark: $("watermark").checked, watermark_text: $("watermark-text").value.trim() || null,
      originals_downloadable: $("originals-downloadable").checked, zips_allowed: $("zips-allowed").checked };
    renderBrand(await api(`/api/events/${eventId}`, { method: "PATCH", token, json }));
  } catch (error) {
    return toast(error.message);
  }
  toast("Saved: attendees see it now.");
});

$("brand-logo-remove").addEventListener("click", async () => {
  try {
    await api(`/api/events/${eventId}/logo`, { method: "DELETE", token });
    renderBrand(await api(`/api/events/${eventId}`, { token }));
  } catch (error) {
    toast(error.message);
  }
});

function renderGallery(gallery) {
  $("gallery-summary").textContent = gallery.enabled ? `on until ${new Date(gallery.expires_at).toLocaleDateString()}` : "off";
  show($("gallery-on"), gallery.enabled);
  if (gallery.enabled) {
    $("gallery-link").textContent = gallery.url;
    $("gallery-link").href = gallery.url;
    $("gallery-expiry").textContent = new Date(gallery.expires_at).toLocaleString();
  }
}

async function loadGallery() {
  renderGallery(await api(`/api/events/${eventId}/gallery`, { token }));
}

$("gallery-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const until = new Date(`${$("gallery-until").value}T23:59:59`);
  const json = { password: $("gallery-password").value, expires_at: until.toISOString() };
  try {
    renderGallery(await api(`/api/events/${eventId}/gallery`, { method: "PUT", token, json }));
    $("gallery-password").value = "";
    toast("The gallery is on: share the link and, apart, the password.");
  } catch (error) {
    toast(error.message);
  }
});

$("gallery-off").addEventListener("click", async () => {
  try {
    await api(`/api/events/${eventId}/gallery`, { method: "DELETE", token });
    await loadGallery();
  } catch (error) {
    toast(error.message);
  }
});

function renderWebhook(hook) {
  $("webhook-summary").textContent = hook.url ? hook.url : "off";
  if (hook.url && document.activeElement !== $("webhook-url")) $("webhook-url").value = hook.url;
  show($("webhook-on"), Boolean(hook.url));
  $("webhook-secret").textContent = hook.secret || "";
  $("webhook-log").querySelector("tbody").replaceChildren(...hook.deliveries.map((d) => h("tr", {},
    h("td", {}, new Date(d.created_at).toLocaleString()), h("td", {}, d.kind),
    h("td", {}, d.state), h("td", {}, String(d.attempts)),
    h("td", {}, d.last_error || (d.last_status ? String(d.last_status) : "")))));
}

async function loadWebhook() {
  renderWebhook(await api(`/api/events/${eventId}/webhook`, { token }));
}

async function webhookAction(path, method, json) {
  try {
    const answer = await api(`/api/events/${eventId}/webhook${path}`, { method, token, json });
    if (answer && answer.deliveries) renderWebhook(answer);
    else await loadWebhook();
  } catch (error) {
    toast(error.message);
  }
}

$("webhook-form").addEventListener("submit", (e) => {
  e.preventDefault();
  webhookAction("", "PUT", { url: $("webhook-url").value.trim() });
});
$("webhook-test").addEventListener("click", async () => {
  await webhookAction("/test", "POST");
  setTimeout(() => loadWebhook().catch(() => {}), 2000);
});
$("webhook-rotate").addEventListener("click", () => webhookAction("/secret", "POST"));
$("webhook-remove").addEventListener("click", () => {
  if (confirm("Remove the webhook? Its log and the deliveries still owed go too.")) webhookAction("", "DELETE");
});

$("race-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const number = (id) => ($(id).value.trim() ? Number($(id).value) : null);
  const json = { bibs_enabled: $("bibs-enabled").checked, bib_min: number("bib-min"),
    bib_max: number("bib-max"), bib_search: $("bib-search").value };
  try {
    renderRace(await api(`/api/events/${eventId}`, { method: "PATCH", token, json }));
  } catch (error) {
    return toast(error.message);
  }
  toast(json.bibs_enabled ? "Bib numbers are read from the photos." : "Bib numbers are off.");
});

$("start-list-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData();
  form.append("file", $("start-list-file").files[0]);
  $("start-list-errors").replaceChildren();
  try {
    const imported = await api(`/api/events/${eventId}/start-list`, { method: "PUT", token, form });
    $("start-list-status").textContent =
      `${imported.runners} runners imported, ${imported.with_email} with an address.`;
  } catch (error) {
    const detail = error.body?.detail;
    $("start-list-status").textContent = detail?.error_count
      ? `Not imported: ${detail.error_count} bad lines. The list before is unchanged.`
      : `Not imported: ${error.message}`;
    $("start-list-errors").replaceChildren(...(detail?.errors || []).map((row) =>
      h("li", {}, `line ${row.row}${row.column ? `, ${row.column}` : ""}: ${row.error.replaceAll("_", " ")}`)));
  }
});

const progressPoll = poll(refreshEvent, { min: 1500, max: 15000, factor: 1.5 });

$("toggle-status").addEventListener("click", async (e) => {
  const next = e.currentTarget.dataset.next;
  if (next === "closed" && !confirm("Close this event? It takes no new photos until you reopen it.")) return;
  try {
    await api(`/api/events/${eventId}`, { method: "PATCH", token, json: { status: next } });
  } catch (error) {
    return toast(error.message);
  }
  toast(next === "closed" ? "The event is closed." : "The event is open again.");
  progressPoll.now();
});

$("retention-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const raw = $("retention-days").value.trim();
  try {
    await api(`/api/events/${eventId}`, { method: "PATCH", token, json: { retention_days: raw ? Number(raw) : null } });
  } catch (error) {
    return toast(error.message);
  }
  toast(raw ? `Kept ${raw} days after it closes.` : "Kept by the platform's rule.");
  progressPoll.now();
});

$("joining-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const raw = $("auto-close-days").value.trim();
  const json = { selfie_upload: $("selfie-upload").checked, auto_close_days: raw ? Number(raw) : null };
  try {
    await api(`/api/events/${eventId}`, { method: "PATCH", token, json });
  } catch (error) {
    return toast(error.message);
  }
  toast(json.selfie_upload ? "Attendees may upload a photo." : "Live selfies only.");
  progressPoll.now();
});

async function loadHeld() {
  const held = await api(`/api/events/${eventId}/held-selfies`, { token });
  $("held-count").textContent = String(held.count);
  $("held-list").replaceChildren(...held.data.map((row) => h("li", { dataset: { selfieId: row.selfie_id } },
    h("span", {}, `${row.name || row.email} (${row.email}): the face of ${row.held_for_name || row.held_for_email || "a deleted attendee"}`),
    h("button", { type: "button", class: "small", onclick: () => review(row, "release") }, "Release"),
    h("button", { type: "button", class: "small danger", onclick: () => review(row, "refuse") }, "Refuse"))));
}

async function review(row, verdict) {
  try {
    await api(`/api/events/${eventId}/held-selfies/${row.selfie_id}/${verdict}`, { method: "POST", token });
  } catch (error) {
    return toast(error.message);
  }
  toast(verdict === "release" ? "Released: it is matched now." : "Refused: its encoding is deleted.");
  loadHeld();
}

$("delete-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if ($("delete-confirm").value.trim().toUpperCase() !== $("event-code").textContent) {
    return toast("Type the event's code to confirm.");
  }
  try {
    await api(`/api/events/${eventId}`, { method: "DELETE", token });
  } catch (error) {
    return toast(error.message);
  }
  deleting = true;
  toast("Deleting the event…");
  progressPoll.now();
});

// The event's photos as one zip: a short-lived link the browser downloads to disk itself.
async function downloadArchive(matchedOnly) {
  try {
    const link = await api(`/api/events/${eventId}/archive-link?matched_only=${matchedOnly}`, { method: "POST", token });
    saveLink(link.url);
  } catch (error) {
    toast(error.message);
  }
}
$("download-all").addEventListener("click", () => downloadArchive(false));
$("download-matched").addEventListener("click", () => downloadArchive(true));

// --- photo grid -----------------------------------------------------------------------

// Every photo of the event, latest taken first, a page at a time as the grid scrolls: each
// page remembers the cursor it was read with, so that it can be read again in place. New
// uploads grow the first page; the other pages are read again only where they hold photos
// still being indexed, and only near the screen.
const tiles = new Map();
let pages = [];
let nextCursor = null;
let photosTotal = 0;
let gridTimer = null;
const FINAL = new Set(["indexed", "failed"]);

function scheduleGridRefresh() {
  clearTimeout(gridTimer);
  gridTimer = setTimeout(refreshGrid, 300);
}

const photosPage = (cursor, limit) => {
  const by = $("photographer-filter").value;
  return api(`/api/events/${eventId}/photos?limit=${limit}${by ? `&photographer=${by}` : ""}` +
    `${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
};

async function refreshGrid() {
  const first = pages[0];
  const total = Number(lastCounts.split("/")[0]);
  const added = Math.max(0, total - photosTotal);
  if (!first || first.photos.length + added > 500) {
    const page = await photosPage(null, PAGE);
    pages = [{ cursor: null, photos: page.data }];
    nextCursor = page.next_cursor;
    photosTotal = page.count;
  } else {
    const wanted = pages.filter((pg, n) => n === 0 || (pg.photos.some((p) => !FINAL.has(p.status)) && nearScreen(pg)));
    await Promise.all(wanted.map(async (pg) => {
      const page = await photosPage(pg.cursor, Math.max(1, pg.photos.length + (pg === first ? added : 0)));
      pg.photos = page.data;
      // The total this read was sized for: photos uploaded while it ran are read next time
      // (the page's own count would already hold them, and they would never be read).
      photosTotal = total;
      if (pg === pages.at(-1)) nextCursor = page.next_cursor;
    }));
  }
  renderGrid();
}

async function morePhotos() {
  if (!nextCursor) return;
  const cursor = nextCursor;
  nextCursor = null;  // one request at a time
  try {
    const page = await photosPage(cursor, PAGE);
    pages.push({ cursor, photos: page.data });
    nextCursor = page.next_cursor;
    photosTotal = page.count;
  } catch (error) {
    nextCursor = cursor;
    throw error;
  }
  renderGrid();
}

function nearScreen(page) {
  const ids = page.photos.map((p) => p.id);
  const top = tiles.get(ids[0])?.getBoundingClientRect().top ?? Infinity;
  const bottom = tiles.get(ids.at(-1))?.getBoundingClientRect().bottom ?? -Infinity;
  return bottom > -innerHeight && top < 2 * innerHeight;
}

function renderGrid() {
  const seen = new Set();
  const nodes = [];
  for (const photo of pages.flatMap((pg) => pg.photos)) {
    if (seen.has(photo.id)) continue;  // a photo deleted meanwhile shifts a page by one
    seen.add(photo.id);
    nodes.push(tileFor(photo));
  }
  for (const id of tiles.keys()) if (!seen.has(id)) tiles.delete(id);
  $("photo-grid").replaceChildren(...nodes);
  show($("more-photos"), Boolean(nextCursor));
  requestAnimationFrame(() => {
    if (nextCursor && $("more-photos").getBoundingClientRect().top < innerHeight + 800) morePhotos().catch((e) => toast(e.message));
  });
}

function tileFor(photo) {
  const key = `${photo.id}:${photo.status}:${photo.face_count}`;
  const existing = tiles.get(photo.id);
  if (existing?.dataset.key === key) return existing;
  // Every tile is the same size (a 4:3 frame); the photo fits inside it whole, in a box of
  // its own shape that its face boxes are placed in.
  const frame = existing?.querySelector(".frame") ?? h("div", { class: "frame" }, h("div", { class: "photo-box" }, thumb(photo)));
  const box = frame.querySelector(".photo-box");
  box.querySelectorAll(".face-box").forEach((b) => b.remove());
  for (const face of photo.faces) {
    box.append(h("span", {
      class: "face-box",
      style: {
        left: `${(100 * face.left) / photo.width}%`,
        top: `${(100 * face.top) / photo.height}%`,
        width: `${(100 * (face.right - face.left)) / photo.width}%`,
        height: `${(100 * (face.bottom - face.top)) / photo.height}%`,
      },
    }));
  }
  box.style.aspectRatio = `${photo.width} / ${photo.height}`;
  box.classList.toggle("tall", photo.width * 3 < photo.height * 4);
  const caption = h("figcaption", {},
    h("span", { class: "filename", title: photo.filename }, photo.filename),
    h("span", { class: `badge ${photo.status}` }, photo.status === "indexed" ? faceCount(photo.face_count) : photo.status),
    photo.error ? h("small", { class: "error" }, photo.error) : null,
    photo.status === "indexed" && photo.face_count
      ? h("button", { type: "button", class: "link who", "aria-label": `Who is in ${photo.filename}`,
        onclick: (e) => showPeople(photo, e.currentTarget.closest(".tile")) }, "Who?")
      : null,
    h("button", { type: "button", class: "link delete-photo", "aria-label": `Delete ${photo.filename}`,
      onclick: () => deletePhoto(photo) }, "Delete"));
  const tile = h("li", { class: "tile", dataset: { photoId: photo.id, key, status: photo.status } }, frame, caption);
  tiles.set(photo.id, tile);
  return tile;
}

// Who was found in a photo: the matched attendees' names under the tile, read when asked.
async function showPeople(photo, tile) {
  tile.querySelector(".people")?.remove();
  let people;
  try {
    people = (await api(`/api/photos/${photo.id}/people`, { token })).data;
  } catch (error) {
    return toast(error.message);
  }
  tile.append(h("div", { class: "people", role: "status" },
    people.length
      ? h("ul", {}, ...people.map((p) => h("li", {}, p.name || "(no name)",
        h("small", { class: "muted" }, ` ${p.distance.toFixed(2)}`))))
      : h("p", { class: "small muted" }, "Nobody matched in this photo yet.")));
}

async function deletePhoto(photo) {
  if (!confirm(`Delete ${photo.filename}? Its faces and matches go with it, for every attendee.`)) return;
  try {
    await api(`/api/photos/${photo.id}`, { method: "DELETE", token });
  } catch (error) {
    return toast(error.message);
  }
  for (const page of pages) page.photos = page.photos.filter((p) => p.id !== photo.id);
  photosTotal -= 1;
  renderGrid();
  toast(`${photo.filename} deleted.`);
  progressPoll.now();
}

const faceCount = (n) => (n === 1 ? "1 face" : `${n} faces`);

function thumb(photo) {
  const img = h("img", { alt: photo.filename, loading: "lazy" });
  lazyImage(img, `/api/photos/${photo.id}/image?size=thumb`, token);
  return img;
}

$("more-photos").addEventListener("click", () => morePhotos().catch((e) => toast(e.message)));
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) morePhotos().catch((e) => toast(e.message));
}, { rootMargin: "800px" }).observe($("more-photos"));
let scrollTimer = null;
addEventListener("scroll", () => {  // photos scrolled into view are read again if still indexing
  clearTimeout(scrollTimer);
  scrollTimer = setTimeout(() => {
    if (pages.slice(1).some((pg) => nearScreen(pg) && pg.photos.some((p) => !FINAL.has(p.status)))) scheduleGridRefresh();
  }, 500);
}, { passive: true });
$("show-boxes").addEventListener("change", (e) => $("photo-grid").classList.toggle("hide-boxes", !e.target.checked));

// --- bulk upload ----------------------------------------------------------------------

const uploads = [];
let active = 0;

function addFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const added = [];
  for (const file of files) {
    const bar = h("progress", { max: file.size || 1, value: 0 });
    const state = h("span", { class: "state" }, "checking…");
    const li = h("li", { class: "upload hashing" }, h("span", { class: "filename", title: file.name }, file.name), bar, state);
    const item = { file, li, bar, stateNode: state, status: "hashing", loaded: 0, attempts: 0 };
    uploads.push(item);
    added.push(item);
    $("upload-list").append(li);
  }
  show($("upload-summary"));
  renderTotals();
  skipKnown(added).finally(() => {
    for (const item of added) if (item.status === "hashing") setState(item, "queued", "queued");
    renderTotals();
    pump();
  });
}

// Hashes first: files the event has already (a card uploaded again after an interruption)
// are not sent. Browsers hash only on HTTPS or localhost; elsewhere every file is sent,
// and the API still stores each one once.
async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function skipKnown(items) {
  if (!globalThis.crypto?.subtle) return;
  for (const item of items) item.sha256 = await sha256(item.file);
  for (let start = 0; start < items.length; start += 1000) {
    const batch = items.slice(start, start + 1000);
    const { known } = await api(`/api/events/${eventId}/photos/known`,
      { method: "POST", token, json: { sha256: batch.map((i) => i.sha256) } });
    const have = new Set(known);
    for (const item of batch) {
      if (!have.has(item.sha256)) continue;
      item.bar.value = item.bar.max;
      setState(item, "skipped", "skipped: already in this event");
    }
  }
}

function setState(item, status, text) {
  item.status = status;
  item.li.className = `upload ${status}`;
  item.stateNode.textContent = text;
}

function renderTotals() {
  const total = uploads.reduce((sum, u) => sum + (u.file.size || 1), 0);
  const finished = (u) => u.status === "done" || u.status === "skipped";
  const loaded = uploads.reduce((sum, u) => sum + (finished(u) ? u.file.size || 1 : u.loaded), 0);
  $("upload-total").max = Math.max(1, total);
  $("upload-total").value = loaded;
  const done = uploads.filter((u) => u.status === "done").length;
  const skipped = uploads.filter((u) => u.status === "skipped").length;
  const failed = uploads.filter((u) => u.status === "failed").length;
  const busy = uploads.length - done - skipped - failed;
  $("upload-counts").textContent =
    `${done} of ${uploads.length} uploaded` + (skipped ? `, ${skipped} skipped as duplicates` : "") +
    (failed ? `, ${failed} failed` : "") + (busy ? `, ${busy} to go` : "");
  show($("retry-failed"), uploads.some((u) => u.status === "failed" && u.retryable));
}

function pump() {
  while (active < PARALLEL_UPLOADS) {
    const next = uploads.find((u) => u.status === "queued");
    if (!next) return;
    active += 1;
    send(next).finally(() => {
      active -= 1;
      renderTotals();
      pump();
    });
  }
}

function post(item) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/events/${eventId}/photos`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => {
      item.loaded = e.loaded;
      item.bar.value = e.loaded;
      renderTotals();
    };
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.response, retryAfter: xhr.getResponseHeader("Retry-After") });
    xhr.onerror = () => resolve({ status: 0, body: null });
    xhr.ontimeout = () => resolve({ status: 0, body: null });
    const form = new FormData();
    form.append("files", item.file, item.file.name);
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function send(item) {
  while (true) {
    item.attempts += 1;
    setState(item, "uploading", item.attempts > 1 ? `retry ${item.attempts - 1}…` : "uploading…");
    const { status, body, retryAfter } = await post(item);
    if (status === 202) {
      item.bar.value = item.bar.max;
      const duplicate = body?.data?.[0]?.duplicate;
      setState(item, duplicate ? "skipped" : "done", duplicate ? "skipped: already in this event" : "uploaded");
      progressPoll.now();
      return;
    }
    if (status === 401) {
      location.replace(`/login?next=${location.pathname}&expired=1`);
      return;
    }
    // Busy or unreachable: worth another try. Anything else is about the file itself.
    const transient = status === 0 || status === 429 || status >= 500;
    if (!transient) {
      setState(item, "failed", describe(body) || `refused (${status})`);
      item.retryable = false;
      return;
    }
    if (item.attempts >= MAX_ATTEMPTS) {
      setState(item, "failed", status ? `server busy (${status}); retry later` : "network error; retry later");
      item.retryable = true;
      return;
    }
    item.loaded = 0;
    setState(item, "retrying", `waiting to retry (${status || "network"})`);
    const wait = retryAfter ? Number(retryAfter) * 1000 : 1000 * 3 ** (item.attempts - 1);
    await sleep(Math.min(wait, 30000));
  }
}

$("retry-failed").addEventListener("click", () => {
  for (const item of uploads) {
    if (item.status === "failed" && item.retryable) {
      item.attempts = 0;
      item.loaded = 0;
      item.bar.value = 0;
      setState(item, "queued", "queued");
    }
  }
  renderTotals();
  pump();
});

const dropzone = $("dropzone");
$("photo-files").addEventListener("change", (e) => {
  addFiles(e.target.files);
  e.target.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    dropzone.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, () => dropzone.classList.remove("over"));
}
dropzone.addEventListener("drop", (e) => {
  e.preventDefault();
  addFiles(e.dataTransfer.files);
});
dropzone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") $("photo-files").click();
});
window.addEventListener("beforeunload", (e) => {
  if (uploads.some((u) => u.status === "queued" || u.status === "uploading" || u.status === "retrying")) e.preventDefault();
});

// --- matching -------------------------------------------------------------------------

$("tolerance-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api(`/api/events/${eventId}`, { method: "PATCH", token, json: { tolerance: Number($("tolerance").value) } });
    toast("Tolerance saved; the event is being rematched.");
    progressPoll.now();
  } catch (error) {
    toast(error.message);
  }
});

// --- calibration: distances, attendees, and a tolerance's preview ---------------------

function drawHistogram(calibration) {
  const box = $("histogram");
  const bins = calibration.histogram.slice(1); // bin 0 is "nearer than 0.30"
  const most = Math.max(1, ...bins.map((b) => b.matched + b.unmatched + b.lookalike));
  const low = bins[0].low, high = bins[bins.length - 1].high;
  box.replaceChildren(
    ...bins.map((b) => h("div", { class: "bin", title: `${b.low.toFixed(2)}-${b.high.toFixed(2)}: ${b.matched} matched, ${b.unmatched} not, ${b.lookalike} look-alike` },
      ...[["matched", b.matched], ["unmatched", b.unmatched], ["lookalike", b.lookalike]].map(([kind, n]) =>
        h("span", { class: kind, style: { height: `${(100 * n) / most}%` } })))),
    h("div", { class: "tolerance-line", style: { left: `${(100 * (calibration.tolerance - low)) / (high - low)}%` } }),
    ...[low, (low + high) / 2, high].map((x) => h("span", { class: "axis", style: { left: `${(100 * (x - low)) / (high - low)}%` } }, x.toFixed(2))),
  );
  $("calibration-attendees").tBodies[0].replaceChildren(
    ...calibration.attendees.map((a) => h("tr", {}, h("td", {}, a.name || `attendee ${a.attendee_id.slice(0, 8)}`), h("td", {}, String(a.photos)))),
  );
}

async function loadCalibration() {
  drawHistogram(await api(`/api/events/${eventId}/calibration`, { token }));
}

$("calibration").addEventListener("toggle", () => {
  if ($("calibration").open) loadCalibration().catch((error) => toast(error.message));
});

function showPreview(p) {
  if (p.status !== "done") {
    $("preview-status").textContent = `Computing what ${p.tolerance.toFixed(2)} would do…`;
    return false;
  }
  const sign = (n) => (n > 0 ? `+${n}` : String(n));
  $("preview-status").textContent =
    `At ${p.tolerance.toFixed(2)}: ${p.matches_then} matches instead of ${p.matches_now} ` +
    `(${sign(p.gained)} gained, ${sign(-p.lost)} lost), ${p.attendees_affected} attendees affected. ` +
    "Nothing has changed yet: save the tolerance to apply it.";
  const table = $("preview-attendees");
  table.tBodies[0].replaceChildren(
    ...p.attendees.map((a) => h("tr", {}, h("td", {}, a.name || `attendee ${a.attendee_id.slice(0, 8)}`), h("td", {}, String(a.photos_now)), h("td", {}, String(a.photos_then)))),
  );
  show(table, p.attendees.length > 0);
  return "stop";
}

$("preview-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const asked = await api(`/api/events/${eventId}/calibration/previews`, {
      method: "POST", token, json: { tolerance: Number($("preview-tolerance").value) },
    });
    showPreview(asked);
    poll(async () => showPreview(await api(asked.status_url, { token })), { min: 500, max: 5000 });
  } catch (error) {
    toast(error.message);
  }
});

$("rematch").addEventListener("click", async () => {
  try {
    await api(`/api/photographer/events/${eventId}/rematch`, { method: "POST", token });
    progressPoll.now();
  } catch (error) {
    toast(error.message);
  }
});

// --- photographers ----------------------------------------------------------------------


async function loadPhotographers() {
  photographersLoaded = true;
  let listed;
  try {
    listed = await api(`/api/events/${eventId}/photographers`, { token });
  } catch (error) {
    return showError($("photographers-error"), error);
  }
  $("photographer-count").textContent = String(listed.data.length);
  const filter = $("photographer-filter");
  const chosen = filter.value;
  filter.replaceChildren(h("option", { value: "" }, "every photographer"),
    ...listed.data.filter((p) => p.user_id).map((p) => h("option", { value: p.user_id }, p.name || p.email)));
  filter.value = chosen;
  $("photographer-table").tBodies[0].replaceChildren(...listed.data.map(photographerRow));
}

function photographerRow(p) {
  const minutes = h("input", { type: "number", step: "1", value: String(Math.round(p.clock_offset_seconds / 60)),
    "aria-label": `Clock correction of ${p.email} in minutes`, disabled: !p.user_id, class: "narrow" });
  const save = h("button", { type: "button", class: "small", disabled: !p.user_id, onclick: async () => {
    try {
      const fixed = await api(`/api/events/${eventId}/clocks/${p.user_id}`,
        { method: "PUT", token, json: { offset_seconds: Number(minutes.value) * 60 } });
      toast(`${fixed.photos_moved} photos moved on the timeline.`);
      scheduleGridRefresh();
    } catch (error) {
      showError($("photographers-error"), error);
    }
  } }, "Save");
  const remove = p.role === "contributor" ? h("button", { type: "button", class: "small danger", onclick: async () => {
    await api(`/api/events/${eventId}/contributors/${encodeURIComponent(p.email)}`, { method: "DELETE", token });
    loadPhotographers();
  } }, "Remove") : null;
  const who = `${p.name || p.email}${p.role === "owner" ? " (you)" : p.role === "former" ? " (no longer invited)" : ""}` +
    (p.role === "contributor" && !p.user_id ? " · no account yet" : "");
  return h("tr", {}, h("td", {}, who), h("td", {}, String(p.photos)),
    h("td", {}, minutes, " min ", save), h("td", {}, remove));
}

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = new FormData(form).get("email");
  try {
    await api(`/api/events/${eventId}/contributors`, { method: "POST", token, json: { email } });
    form.reset();
    toast(`Invited ${email}.`);
    loadPhotographers();
  } catch (error) {
    showError($("photographers-error"), error);
  }
});

$("photographer-filter").addEventListener("change", () => {
  pages = [];
  scheduleGridRefresh();
});
