// The attendee's page: register with consent, take or pick a selfie, watch "my photos".
import { ApiError, api, download, h, lang, lazyImage, loadImage, plural, poll, saveLink, show, showError, t, toast, tokens } from "/static/app.js";
import { framesForm, liveCapture } from "/static/live.js";

const root = document.getElementById("attendee");
const code = root.dataset.code;
const $ = (id) => document.getElementById(id);
const sections = {
  closed: $("closed"), register: $("register"), checkMail: $("check-mail"), reconsent: $("reconsent"),
  selfie: $("selfie"), gallery: $("gallery"),
  optOut: $("opt-out"),
};
const uploadAllowed = root.dataset.selfieUpload === "yes";

// What to do about a refusal, in the page's language (the API's own hints are English).
const REJECTION_HINTS = {
  no_face: t("try another photo: just you, facing the camera, in good light"),
  multiple_faces: t("take it alone, with no one else in the picture"),
  face_too_small: t("hold the phone closer, so that your face fills the oval"),
  too_blurry: t("hold the phone still, in better light"),
  too_dark: t("find more light, facing a window or a lamp"),
  too_bright: t("step out of direct light"),
  face_cut_off: t("keep your whole face inside the oval"),
  look_straight: t("look straight at the camera for the first picture"),
  turn_left: t("turn your head to your left when asked, a little further"),
  turn_right: t("turn your head to your right when asked, a little further"),
  different_faces: t("take every picture yourself, in one go"),
  flat_picture: t("take the selfie of yourself, not of a photo or a screen"),
  another_person: t("every selfie must be of the person of your first one"),
};

const REJECTION_TITLES = {
  unreadable_image: t("We could not read that image"),
  no_face: t("No face found"),
  multiple_faces: t("More than one face"),
  face_too_small: t("Your face is too small"),
  too_blurry: t("The photo is blurry"),
  too_dark: t("The photo is too dark"),
  too_bright: t("The photo is too bright"),
  face_cut_off: t("Part of your face is cut off"),
  not_an_image: t("That file is not a photo"),
  unsupported_format: t("That format is not supported"),
  file_too_large: t("That file is too big"),
  empty_file: t("That file is empty"),
  truncated_image: t("That photo is incomplete"),
  too_many_pixels: t("That image is too large"),
  unreadable: t("We could not read that image"),
  look_straight: t("Look straight at the camera first"),
  turn_left: t("Turn your head to your left"),
  turn_right: t("Turn your head to your right"),
  different_faces: t("Every picture must show you"),
  flat_picture: t("That looked like a photo, not you"),
  frames_mismatch: t("Some pictures are missing"),
  challenge_invalid: t("That took too long"),
  live_capture_required: t("Take your selfie live"),
  another_person: t("Not the person of your first selfie"),
  refused: t("Refused by the photographer"),
  rate_limited: t("Too many tries"),
};


let token = tokens.attendee(code);
let galleryPoll = null;

function only(...names) {
  for (const [name, node] of Object.entries(sections)) show(node, names.includes(name));
  show($("opt-out-link-row"), names.some((n) => n === "register" || n === "closed"));
}

function signedOut(message) {
  tokens.clearAttendee(code);
  token = null;
  galleryPoll?.stop();
  if (root.dataset.status !== "open") {
    only("closed");
    return;
  }
  only("register");
  if (message) showError($("register-error"), new Error(message));
}

// 401 anywhere: the token expired or its account is gone; register again signs back in.
function onFailure(error) {
  if (error instanceof ApiError && (error.status === 401 || error.code === "attendee_required")) {
    signedOut(t("Your session has ended. Enter your email: we mail you a link to sign back in."));
    return true;
  }
  toast(error.message || t("Something went wrong; try again."));
  return false;
}

async function start() {
  if (!token) return signedOut();
  // This page's language becomes the attendee's mails' (no answer is awaited).
  api("/api/me/locale", { method: "PUT", token, json: { locale: lang } }).catch(() => {});
  try {
    const consent = await api("/api/me/consent", { token });
    if (!consent.current) return only("reconsent");
  } catch (error) {
    return onFailure(error);
  }
  try {
    const state = await api("/api/me/selfie", { token });
    if (state.selfies.some((s) => s.status === "valid")) return openGallery();
    if (root.dataset.status !== "open") return noSelfieWhenClosed();
    showSelfie();
    if (state.status === "pending") return watchSelfie();
    if (state.status === "held") return showHeld();
    if (state.status === "rejected") showRejection(state.reason, state.detail);
  } catch (error) {
    if (error instanceof ApiError && error.code === "no_selfie") {
      return root.dataset.status === "open" ? showSelfie() : noSelfieWhenClosed();
    }
    onFailure(error);
  }
}

$("reconsent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError($("reconsent-error"), null);
  try {
    await api("/api/me/consent", { method: "POST", token, json: { consent: true } });
  } catch (error) {
    return showError($("reconsent-error"), error);
  }
  start();
});

$("reconsent-decline").addEventListener("click", async () => {
  if (!confirm(t("Delete your selfies, face encodings and matches at this event?"))) return;
  try {
    await api("/api/me/face-data", { method: "DELETE", token });
  } catch (error) {
    return onFailure(error);
  }
  show($("reconsent-decline"), false);
  toast(t("Your face data is deleted. Agree to the new policy only if you want to take a new selfie."));
});

function noSelfieWhenClosed() {
  only("closed");
  showError($("sign-in-error"), new Error(t("You have no accepted selfie here, and the event is closed: it takes no new selfie.")));
}

// --- registration, and signing back in to a closed event ---------------------------------

function checkMail(email, sent) {
  $("check-mail-address").textContent = email;
  $("check-mail-minutes").textContent = sent.expires_in_minutes;
  only("checkMail");
}

$("check-mail-again").addEventListener("click", () => signedOut());

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = new FormData(event.currentTarget).get("email");
  showError($("sign-in-error"), null);
  try {
    const sent = await api("/api/sign-in-link", { method: "POST", json: { event_code: code, email, locale: lang } });
    checkMail(email, sent);
  } catch (error) {
    showError($("sign-in-error"), error);
  }
});

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  showError($("register-error"), null);
  button.disabled = true;
  try {
    const data = new FormData(form);
    const sent = await api("/api/register-with-event-code", {
      method: "POST",
      json: {
        event_code: code,
        name: data.get("name") || null,
        email: data.get("email"),
        consent: data.get("consent") === "on",
        notify: data.get("notify") === "on",
        locale: lang,
      },
    });
    checkMail(data.get("email"), sent);
  } catch (error) {
    showError($("register-error"), error);
  } finally {
    button.disabled = false;
  }
});

// --- selfie -----------------------------------------------------------------------------

function showSelfie() {
  only("selfie");
  const camera = Boolean(navigator.mediaDevices?.getUserMedia);
  show($("camera-open"), camera);
  show($("no-camera"), !camera);
}

function showHeld() {
  show($("selfie-actions"), false);
  setStatus(t("Your face is already in another account at this event, so the photographer looks at your selfie first. Your photos appear here once it is released."));
}

function setStatus(text) {
  $("selfie-status").textContent = text;
  show($("selfie-status"), Boolean(text));
}

function showRejection(reason, hint) {
  setStatus("");
  $("selfie-rejected-title").textContent = REJECTION_TITLES[reason] || t("Please retake your selfie");
  const text = (lang !== "en" && REJECTION_HINTS[reason]) || hint || t("try another photo: just you, facing the camera, in good light");
  $("selfie-hint").textContent = `${text[0].toUpperCase()}${text.slice(1)}.`.replace(/\.\.$/, ".");
  show($("selfie-rejected"));
  show($("selfie-actions"));
}

async function uploadSelfie(file) {
  show($("selfie-rejected"), false);
  show($("selfie-actions"), false);
  setStatus(t("Uploading your selfie…"));
  const form = new FormData();
  form.append("file", file, file.name || "selfie.jpg");
  try {
    await api("/api/upload-selfie", { method: "POST", token, form });
  } catch (error) {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 401) {
      return showRejection(error.code, error.message);
    }
    show($("selfie-actions"));
    setStatus("");
    return onFailure(error);
  }
  watchSelfie();
}

function watchSelfie() {
  show($("selfie-actions"), false);
  const started = Date.now();
  setStatus(t("Checking your selfie…"));
  const watcher = poll(
    async () => {
      const state = await api("/api/me/selfie", { token });
      if (state.status === "pending") {
        setStatus(t("Checking your selfie… {seconds} s", { seconds: Math.round((Date.now() - started) / 1000) }));
        return false;
      }
      if (state.status === "valid") {
        setStatus(t("Looks good! Finding your photos…"));
        openGallery();
      } else if (state.status === "held") {
        showHeld();
      } else {
        showRejection(state.reason, state.detail);
      }
      return "stop";
    },
    { min: 500, max: 3000, factor: 1.3 },
  );
  return watcher;
}

$("selfie-file")?.addEventListener("change", (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (file) uploadSelfie(file);
});

// A live selfie for `container`; `accepted(selfie)` once its frames are in.
function takeLive(container, actions, accepted, failed) {
  show(actions, false);
  liveCapture(container, {
    start: () => api("/api/me/live-challenges", { method: "POST", token }),
    send: async (challengeId, frames) => {
      let selfie;
      try {
        selfie = await api("/api/me/live-selfie", { method: "POST", token, form: framesForm(challengeId, frames) });
      } catch (error) {
        show(actions);
        return failed(error);
      }
      accepted(selfie);
    },
    onCancel: () => show(actions),
  }).catch((error) => {
    show(actions);
    if (error instanceof ApiError) return failed(error);
    toast(uploadAllowed ? t("The camera is not available; choose a photo instead.") : t("The camera is not available."));
  });
}

$("camera-open").addEventListener("click", () => {
  show($("selfie-rejected"), false);
  setStatus("");
  takeLive($("live-selfie"), $("selfie-actions"), () => watchSelfie(), (error) => {
    if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 401) {
      return showRejection(error.code, error.message);
    }
    onFailure(error);
  });
});

// --- my photos --------------------------------------------------------------------------

const PHOTOS_PAGE = 60;
const tiles = new Map();
let etag = null;
let current = null;
let loaded = [];
let pagesLoaded = 1;
let nextCursor = null;
let total = 0;

function openGallery() {
  only("gallery");
  loadNotifications();
  if ($("my-bib-form")) {
    api("/api/me/bib", { token }).then((mine) => {
      $("my-bib-form").elements.bib.value = mine.bib || "";
    }).catch(() => {});
  }
  galleryPoll?.stop();
  etag = null;
  pagesLoaded = 1;
  galleryPoll = poll(refreshPhotos, { min: 2000, max: 30000 });
}

const photosPage = (cursor, headers = {}) =>
  api(`/api/me/photos?limit=${PHOTOS_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    { token, raw: true, headers });

// The first page is polled with its ETag, which changes whenever any page would; on a
// change, the pages already shown are read again.
async function refreshPhotos() {
  let response;
  try {
    response = await photosPage(null, etag ? { "If-None-Match": etag } : {});
    $("gallery-live").textContent = t("Checked {time}; new photos appear by themselves.", { time: new Date().toLocaleTimeString(lang) });
    if (response.status === 304) return false;
    etag = response.headers.get("ETag");
    let page = await response.json();
    const photos = [...page.data];
    for (let n = 1; n < pagesLoaded && page.next_cursor; n++) {
      page = await (await photosPage(page.next_cursor)).json();
      photos.push(...page.data);
    }
    loaded = photos;
    nextCursor = page.next_cursor;
    total = page.count;
  } catch (error) {
    onFailure(error);
    throw error;
  }
  renderPhotos();
  return true;
}

async function morePhotos() {
  if (!nextCursor) return;
  const cursor = nextCursor;
  nextCursor = null;  // one request at a time
  try {
    const page = await (await photosPage(cursor)).json();
    loaded.push(...page.data.filter((p) => !tiles.has(p.id)));
    nextCursor = page.next_cursor;
    total = page.count;
    pagesLoaded += 1;
  } catch (error) {
    nextCursor = cursor;
    return onFailure(error);
  }
  renderPhotos();
}

$("more-photos").addEventListener("click", morePhotos);
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) morePhotos();
}, { rootMargin: "600px" }).observe($("more-photos"));

function renderPhotos() {
  const grid = $("photo-grid");
  const keep = new Set(loaded.map((p) => p.id));
  for (const [id, tile] of tiles) {
    if (!keep.has(id)) {
      tile.remove();
      tiles.delete(id);
    }
  }
  const nodes = loaded.map((photo) => {
    let tile = tiles.get(photo.id);
    if (!tile) {
      const img = h("img", { alt: t("Photo {name}", { name: photo.filename }), width: 240, height: 240 });
      lazyImage(img, photo.thumb_url, token);
      const byBib = (photo.found_by || []).includes("bib");
      tile = h("li", { class: "tile", dataset: { photoId: photo.id } },
        h("button", { type: "button", class: "tile-open", "aria-label": byBib ? t("Open {name} (found by your bib)", { name: photo.filename }) : t("Open {name}", { name: photo.filename }), onclick: () => openViewer(photo) }, img),
        byBib ? h("span", { class: "tile-mark", title: t("Found by your bib number") }, t("bib")) : null);
      tiles.set(photo.id, tile);
    }
    return tile;
  });
  grid.replaceChildren(...nodes);
  $("photo-count").textContent = String(total);
  show($("gallery-empty"), total === 0);
  show($("more-photos"), Boolean(nextCursor));
  if ($("download-all")) $("download-all").disabled = total === 0;
  requestAnimationFrame(() => {  // the observer says nothing while the button stays in view
    if (nextCursor && $("more-photos").getBoundingClientRect().top < innerHeight + 600) morePhotos();
  });
}

function openViewer(photo) {
  current = photo;
  const img = $("viewer-img");
  img.removeAttribute("src");
  img.alt = photo.filename;
  loadImage(img, photo.preview_url, token).catch(onFailure);
  $("viewer-download").textContent = photo.original ? t("Download") : t("Download (preview)");
  $("viewer").showModal();
}

$("viewer-close").addEventListener("click", () => $("viewer").close());
$("viewer-download").addEventListener("click", () =>
  download(current.download_url, token, current.filename).catch(onFailure));
$("viewer-not-me").addEventListener("click", async () => {
  try {
    await api(`/api/me/photos/${current.id}/not-me`, { method: "POST", token });
  } catch (error) {
    return onFailure(error);
  }
  $("viewer").close();
  tiles.get(current.id)?.remove();
  tiles.delete(current.id);
  loaded = loaded.filter((p) => p.id !== current.id);
  offerUndo(current.id);
  galleryPoll?.now();
});

// "Not me" can be taken back: for 10 seconds from a bar under the gallery, and any time
// later from the list of hidden photos. The photo then comes back if it is you.
let undoTimer = null;
function offerUndo(photoId) {
  $("undo-bar").dataset.photoId = photoId;
  show($("undo-bar"));
  clearTimeout(undoTimer);
  undoTimer = setTimeout(() => show($("undo-bar"), false), 10_000);
}

async function restore(photoId) {
  try {
    await api(`/api/me/photos/${photoId}/not-me`, { method: "DELETE", token });
  } catch (error) {
    return onFailure(error);
  }
  toast(t("Restored: it comes back in a moment if it is you."));
  // The photo is matched again by a job: look now, and again while it runs.
  for (const after of [0, 1500, 4000, 8000]) setTimeout(() => galleryPoll?.now(), after);
  if ($("hidden-photos").open) loadHidden();
}

$("undo-not-me").addEventListener("click", () => {
  clearTimeout(undoTimer);
  show($("undo-bar"), false);
  restore($("undo-bar").dataset.photoId);
});

async function loadHidden() {
  let hidden;
  try {
    hidden = (await api("/api/me/hidden-photos", { token })).data;
  } catch (error) {
    return onFailure(error);
  }
  // Named, not shown: a "not me" photo is someone else's, and access ended with the match.
  $("hidden-list").replaceChildren(...hidden.map((photo) => {
    return h("li", { dataset: { photoId: photo.id } }, h("span", {}, photo.filename),
      h("button", { type: "button", class: "small", onclick: () => restore(photo.id) }, t("Restore")));
  }));
  show($("hidden-empty"), hidden.length === 0);
}
$("hidden-photos").addEventListener("toggle", () => {
  if ($("hidden-photos").open) loadHidden();
});

$("download-all")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    // A one-time link the browser streams to disk: a phone holds none of the zip in memory.
    const link = await api("/api/me/photos/archive-link", { method: "POST", token });
    saveLink(link.url);
  } catch (error) {
    onFailure(error);
  } finally {
    button.disabled = false;
  }
});

$("delete-face-data").addEventListener("click", async () => {
  if (!confirm(t("Delete your selfies, face encodings and matches? Your photos will disappear from this page."))) return;
  try {
    const deleted = await api("/api/me/face-data", { method: "DELETE", token });
    galleryPoll?.stop();
    tiles.clear();
    $("photo-grid").replaceChildren();
    showSelfie();
    show($("selfie-actions"));
    const parts = [
      deleted.selfie_images ? plural(deleted.selfie_images, t("{n} selfie image", { n: deleted.selfie_images }), t("{n} selfie images", { n: deleted.selfie_images })) : null,
      plural(deleted.encodings, t("{n} face encoding", { n: deleted.encodings }), t("{n} face encodings", { n: deleted.encodings })),
      plural(deleted.matches, t("{n} match", { n: deleted.matches }), t("{n} matches", { n: deleted.matches })),
    ].filter(Boolean);
    // The list's "and" in the page's language: the browser's own list formatting.
    setStatus(t("Deleted {list}. Upload a new selfie any time.", { list: new Intl.ListFormat(lang, { type: "conjunction" }).format(parts) }));
  } catch (error) {
    onFailure(error);
  }
});

// --- more selfies, from the gallery ------------------------------------------------------

const SELFIE_STATES = { valid: t("In use"), pending: t("Being checked…") };

async function loadSelfies() {
  let state;
  try {
    state = await api("/api/me/selfie", { token });
  } catch (error) {
    return onFailure(error);
  }
  const active = state.selfies.filter((s) => s.status !== "rejected").length;
  $("selfie-count").textContent = String(state.selfies.filter((s) => s.status === "valid").length);
  $("selfie-list").replaceChildren(...state.selfies.map((selfie, n) => h("li",
    { dataset: { selfieId: selfie.id, status: selfie.status } },
    h("span", {}, t("Selfie {n} · {time}", { n: state.selfies.length - n, time: new Date(selfie.created_at).toLocaleString(lang) })),
    h("strong", {}, SELFIE_STATES[selfie.status] || t("Not used: {reason}", { reason: REJECTION_TITLES[selfie.reason] || selfie.reason })))));
  show($("add-selfie"), active < Number(root.dataset.maxSelfies));
  return state;
}

$("my-selfies").addEventListener("toggle", () => {
  if ($("my-selfies").open) loadSelfies();
});

function watchExtra(selfieId) {
  const status = $("extra-selfie-status");
  status.textContent = t("Checking your selfie…");
  poll(async () => {
    const state = await loadSelfies();
    const mine = state?.selfies.find((s) => s.id === selfieId);
    if (!mine || mine.status === "pending") return false;
    status.textContent = mine.status === "valid"
      ? t("Added: photos it finds appear here by themselves.")
      : mine.status === "held" ? t("Held: the photographer looks at it first.")
      : t("Not added: {reason}. {detail}", { reason: REJECTION_TITLES[mine.reason] || mine.reason, detail: mine.detail || "" });
    return "stop";
  }, { min: 500, max: 3000, factor: 1.3 });
}

$("extra-selfie-file")?.addEventListener("change", async (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (!file) return;
  const status = $("extra-selfie-status");
  status.textContent = t("Uploading…");
  const form = new FormData();
  form.append("file", file, file.name || "selfie.jpg");
  try {
    watchExtra((await api("/api/upload-selfie", { method: "POST", token, form })).selfie_id);
  } catch (error) {
    status.textContent = error.message;
  }
});

$("add-selfie-live").addEventListener("click", () => {
  takeLive($("live-extra"), $("add-selfie"), (selfie) => watchExtra(selfie.selfie_id),
    (error) => { $("extra-selfie-status").textContent = error.message; });
});

// --- leaving the event's photos, without joining ----------------------------------------

$("opt-out-open").addEventListener("click", () => {
  only("optOut");
  show($("opt-out-link-row"), false);
});
$("opt-out-back").addEventListener("click", () => start());

$("opt-out-start").addEventListener("click", () => {
  const status = $("opt-out-status");
  const say = (text) => { status.textContent = text; show(status, Boolean(text)); };
  say("");
  show($("opt-out-actions"), false);
  liveCapture($("live-opt-out"), {
    start: () => api("/api/opt-outs/challenges", { method: "POST", json: { event_code: code } }),
    send: async (challengeId, frames) => {
      const form = framesForm(challengeId, frames);
      form.append("event_code", code);
      let accepted;
      try {
        accepted = await api("/api/opt-outs", { method: "POST", form });
      } catch (error) {
        show($("opt-out-actions"));
        return say(error.message);
      }
      say(t("Checking…"));
      poll(async () => {
        const state = await api(accepted.status_url);
        if (state.status === "pending") return false;
        if (state.status === "done") {
          say(plural(state.faces_removed,
            t("Done: your face is left out of this event ({n} face removed), and of photos uploaded later.", { n: state.faces_removed }),
            t("Done: your face is left out of this event ({n} faces removed), and of photos uploaded later.", { n: state.faces_removed })));
        } else {
          show($("opt-out-actions"));
          say(t("{reason}: {detail}. Try again.", { reason: REJECTION_TITLES[state.reason] || t("Not done"), detail: state.detail }));
        }
        return "stop";
      }, { min: 500, max: 3000, factor: 1.3 });
    },
    onCancel: () => show($("opt-out-actions")),
  }).catch((error) => {
    show($("opt-out-actions"));
    say(error.message || t("The camera is not available."));
  });
});

async function loadNotifications() {
  try {
    $("notify-toggle").checked = (await api("/api/me/notifications", { token })).notify;
    if ($("share-email-toggle")) {
      $("share-email-toggle").checked = (await api("/api/me/email-sharing", { token })).share_email;
    }
  } catch (error) {
    onFailure(error);
  }
}

$("notify-toggle").addEventListener("change", async (event) => {
  const box = event.currentTarget;
  const notify = box.checked;
  try {
    await api("/api/me/notifications", { method: "PUT", token, json: { notify } });
    toast(notify ? t("We will mail you when new photos of you arrive.") : t("No more mails about new photos."));
  } catch (error) {
    box.checked = !notify;
    onFailure(error);
  }
});

$("share-email-toggle")?.addEventListener("change", async (event) => {
  const box = event.currentTarget;
  const share = box.checked;
  try {
    await api("/api/me/email-sharing", { method: "PUT", token, json: { share_email: share } });
    toast(share ? t("The organiser now learns your email with your photos.") : t("The organiser gets an anonymous id only."));
  } catch (error) {
    box.checked = !share;
    onFailure(error);
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("/api/auth/sign-out", { method: "POST", token });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) return onFailure(error);
  }
  signedOut();
});

$("delete-account-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = new FormData(event.currentTarget).get("email");
  if (!confirm(t("Delete your account, with every event you joined? This cannot be undone."))) return;
  showError($("delete-account-error"), null);
  let mailed;
  try {
    mailed = await api("/api/users/me", { method: "DELETE", token, json: { email, locale: lang } });
  } catch (error) {
    return showError($("delete-account-error"), error);
  }
  // Nothing is deleted yet: the link in the mail confirms it (a stolen session is not a mailbox).
  $("delete-account-mailed").textContent =
    t("Check your mail: the link we sent to {email} deletes the account. It works for {minutes} minutes.", { email, minutes: mailed.expires_in_minutes });
  show($("delete-account-mailed"));
});

start();

// Bib numbers: an open search goes to the bib's page; otherwise a pass is mailed to the
// start list's address for the bib (the same answer whether or not it is listed).
$("bib-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const bib = new FormData(event.currentTarget).get("bib").trim().replace(/^#/, "");
  show($("bib-form-error"), false);
  if ($("bib-search").dataset.mode === "open") {
    location.assign(`/e/${code}/bib/${encodeURIComponent(bib)}`);
    return;
  }
  try {
    await api(`/api/e/${code}/bib-passes`, { method: "POST", json: { bib, locale: lang } });
    $("bib-sent").textContent = t("If the start list gives an address for this bib, a link is on its way to it: check the runner's mail.");
    show($("bib-sent"));
  } catch (error) {
    showError($("bib-form-error"), error);
  }
});

$("my-bib-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const bib = new FormData(event.currentTarget).get("bib").trim();
  try {
    const saved = bib
      ? await api("/api/me/bib", { method: "PUT", token, json: { bib } })
      : await api("/api/me/bib", { method: "DELETE", token });
    $("my-bib-status").textContent = saved.bib ? t("Saved: bib {bib}.", { bib: saved.bib }) : t("No bib.");
    galleryPoll?.now();
  } catch (error) {
    $("my-bib-status").textContent = error.message;
  }
});
