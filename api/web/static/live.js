// A live capture: the server's challenge (look straight, then turn left and right in the
// order it chose), one frame per step from the front camera, then `send`. Used for a
// selfie and for leaving an event's photos. The preview is mirrored like a mirror; the
// frames sent are the camera's own pixels.
import { h, show, t } from "/static/app.js";

const SAY = {
  straight: [t("Look straight at the camera"), t("Keep your face inside the oval, then tap the button.")],
  left: [t("Turn your head to your left"), t("As far as is comfortable, still looking at the screen, then tap.")],
  right: [t("Turn your head to your right"), t("As far as is comfortable, still looking at the screen, then tap.")],
};
const ARROW = { straight: "●", left: "←", right: "→" };
const LONG_SIDE = 960;

export function liveCapture(container, { start, send, onCancel }) {
  const video = h("video", { class: "live-video", playsInline: true, muted: true });
  const arrow = h("div", { class: "live-arrow", "aria-hidden": "true" });
  const title = h("h3", { class: "live-title", id: `${container.id}-step` });
  const hint = h("p", { class: "live-hint small" });
  const dots = h("ol", { class: "live-dots", "aria-label": t("steps") });
  const shutter = h("button", { type: "button", class: "primary live-shutter" }, t("Take"));
  const cancel = h("button", { type: "button", class: "link" }, t("Cancel"));
  const stage = h("div", { class: "live-stage" }, video, h("div", { class: "live-oval" }), arrow);
  container.replaceChildren(dots, title, hint, stage, h("div", { class: "live-controls" }, shutter, cancel));
  container.classList.add("live");
  show(container);

  let stream = null;
  let challenge = null;
  let frames = [];

  const stop = () => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = null;
    show(container, false);
  };

  const render = () => {
    const step = challenge.steps[frames.length];
    container.dataset.step = step;
    [title.textContent, hint.textContent] = SAY[step];
    arrow.textContent = ARROW[step];
    arrow.dataset.step = step;
    shutter.textContent = frames.length === challenge.steps.length - 1 ? t("Take and send") : t("Take");
    dots.replaceChildren(...challenge.steps.map((s, n) => h("li", {
      class: n < frames.length ? "done" : n === frames.length ? "now" : "",
    }, `${n + 1}`)));
  };

  const grab = () => new Promise((resolve) => {
    const k = Math.min(1, LONG_SIDE / Math.max(video.videoWidth, video.videoHeight));
    const canvas = h("canvas", { width: Math.round(video.videoWidth * k), height: Math.round(video.videoHeight * k) });
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(resolve, "image/jpeg", 0.9);
  });

  shutter.addEventListener("click", async () => {
    shutter.disabled = true;
    frames.push(await grab());
    shutter.disabled = false;
    if (frames.length < challenge.steps.length) return render();
    stop();
    await send(challenge.challenge_id, frames);
  });
  cancel.addEventListener("click", () => {
    stop();
    onCancel?.();
  });

  return (async () => {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
      audio: false,
    });
    video.srcObject = stream;
    await video.play();
    try {
      challenge = await start();
    } catch (error) {
      stop();
      throw error;
    }
    frames = [];
    render();
    container.scrollIntoView({ block: "start" });
    shutter.focus({ preventScroll: true });
  })();
}

// The frames as the API takes them: the challenge's id and one JPEG per step, in order.
export function framesForm(challengeId, frames) {
  const form = new FormData();
  form.append("challenge_id", challengeId);
  frames.forEach((frame, n) => form.append("frames", frame, `${n}.jpg`));
  return form;
}
