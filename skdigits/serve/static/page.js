// The drawing page of `skdigits serve`: pointer strokes on #canvas, sent as a PNG
// to POST /api/predict while you draw; the answer fills #prediction, the bar
// chart #probabilities and the enlarged 28x28 image #seen.
"use strict";

const STROKE_WIDTH = 22; // of 280 px: MNIST's strokes are about 1/8 of a digit
const DEBOUNCE_MS = 40; // a prediction at most this long after a stroke moves
const MAX_BODY_BYTES = 5000000; // the server's limit (413 above it)
// The drawing is sent at half size: the model sees 28x28 anyway, and the
// server's preprocessing time grows with the number of pixels (4x from 140 to 280).
const UPLOAD_SIDE = 140;
const EMPTY_HINT =
  "Draw a digit in the box with the mouse, a finger or a pen, or choose a photo. " +
  "Esc clears.";

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const prediction = document.getElementById("prediction");
const statusLine = document.getElementById("status");
const bars = document.getElementById("probabilities");
const seen = document.getElementById("seen");
const fileInput = document.getElementById("file");
const upload = document.createElement("canvas");
upload.width = upload.height = UPLOAD_SIDE;

const state = {
  drawing: null, // the id of the pointer drawing, if any
  last: null, // its last point
  hasInk: false,
  timer: null,
  busy: false, // a request is in flight
  again: false, // the drawing changed while it was
  generation: 0, // bumped by Clear and by a photo: older answers are dropped
  version: 0, // bumped by every change to the drawing
};

// #prediction's data-state: "empty", "pending" (the drawing changed since the
// answer shown), "ready" (the answer is for what is on screen) or "error".
function setState(name) {
  prediction.dataset.state = name;
}

function clearCanvas() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  state.hasInk = false;
  state.version += 1;
}

function pointOf(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * canvas.width) / box.width,
    y: ((event.clientY - box.top) * canvas.height) / box.height,
  };
}

function strokeTo(point) {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = STROKE_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(state.last.x, state.last.y);
  ctx.lineTo(point.x, point.y);
  ctx.stroke();
  state.last = point;
  state.hasInk = true;
  state.version += 1;
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  canvas.dataset.pointerType = event.pointerType; // mouse, touch or pen
  state.drawing = event.pointerId;
  state.last = pointOf(event);
  strokeTo(state.last); // a dot
  schedule();
});

canvas.addEventListener("pointermove", (event) => {
  if (event.pointerId !== state.drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const each of events.length ? events : [event]) strokeTo(pointOf(each));
  schedule();
});

function endStroke(event) {
  if (event.pointerId !== state.drawing) return;
  state.drawing = null;
  schedule();
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

function schedule() {
  setState("pending");
  if (state.timer === null) {
    state.timer = setTimeout(() => {
      state.timer = null;
      predictDrawing();
    }, DEBOUNCE_MS);
  }
}

function predictDrawing() {
  if (!state.hasInk) return showEmpty();
  if (state.busy) {
    state.again = true;
    return;
  }
  const generation = state.generation;
  const version = state.version;
  const small = upload.getContext("2d");
  small.imageSmoothingEnabled = true;
  small.imageSmoothingQuality = "high";
  small.drawImage(canvas, 0, 0, UPLOAD_SIDE, UPLOAD_SIDE);
  upload.toBlob((blob) => send(blob, "image/png", generation, "", version), "image/png");
}

function send(body, type, generation, source, version) {
  state.busy = true;
  fetch("/api/predict", { method: "POST", headers: { "Content-Type": type }, body })
    .then((response) =>
      response.json().then((answer) => ({ ok: response.ok, answer })),
    )
    .then(({ ok, answer }) => {
      if (generation !== state.generation) return;
      if (!ok) return showError(source + answer.error);
      showAnswer(answer, source);
      const current = version === state.version && state.drawing === null;
      setState(current ? "ready" : "pending");
    })
    .catch((error) => {
      if (generation === state.generation) {
        showError(`no answer from the server (${error.message}): is skdigits serve running?`);
      }
    })
    .finally(() => {
      state.busy = false;
      if (state.again) {
        state.again = false;
        schedule();
      }
    });
}

function showAnswer(answer, source) {
  prediction.textContent = String(answer.digit);
  const best = answer.probabilities[answer.classes.indexOf(answer.digit)];
  statusLine.textContent = `${source}probability ${best.toFixed(3)}`;
  statusLine.classList.remove("error");
  drawBars(answer.classes, answer.probabilities, answer.digit);
  drawSeen(answer.image28);
}

// No answer to show: an error, or the empty canvas's hint.
function showNoAnswer(message, state) {
  prediction.textContent = "";
  statusLine.textContent = message;
  statusLine.classList.toggle("error", state === "error");
  setState(state);
  drawBars(null, null, null);
  drawSeen(null);
}

function showError(message) {
  showNoAnswer(message, "error");
}

function showEmpty() {
  showNoAnswer(EMPTY_HINT, "empty");
}

function drawBars(classes, probabilities, digit) {
  bars.replaceChildren();
  const labels = classes || [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  labels.forEach((label, i) => {
    const p = probabilities ? probabilities[i] : 0;
    const row = document.createElement("div");
    row.className = label === digit ? "bar-row best" : "bar-row";
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = String(label);
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = probabilities ? p.toFixed(3) : "";
    row.append(name, track, value);
    bars.append(row);
  });
  bars.setAttribute(
    "aria-label",
    probabilities
      ? "Probabilities: " + labels.map((l, i) => `${l}: ${probabilities[i].toFixed(2)}`).join(", ")
      : "Probability of each digit",
  );
}

function drawSeen(image28) {
  const view = seen.getContext("2d");
  const cell = seen.width / 28;
  view.fillStyle = "#000";
  view.fillRect(0, 0, seen.width, seen.height);
  if (!image28) return;
  image28.forEach((row, r) =>
    row.forEach((value, c) => {
      if (value === 0) return;
      view.fillStyle = `rgb(${value},${value},${value})`;
      view.fillRect(c * cell, r * cell, cell, cell);
    }),
  );
}

function clearAll() {
  state.generation += 1;
  clearCanvas();
  fileInput.value = "";
  showEmpty();
}

document.getElementById("clear").addEventListener("click", clearAll);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") clearAll();
});

fileInput.addEventListener("change", () => {
  const file = fileInput.files[0];
  if (!file) return;
  state.generation += 1;
  clearCanvas();
  if (file.size > MAX_BODY_BYTES) {
    showError(`${file.name} is over 5 MB: choose a smaller photo`);
    return;
  }
  statusLine.textContent = `reading ${file.name}...`;
  setState("pending");
  const type = file.type || "application/octet-stream";
  send(file, type, state.generation, `${file.name}: `, state.version);
});

clearCanvas();
showEmpty();
