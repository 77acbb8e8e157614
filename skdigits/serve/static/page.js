// The page of `skdigits serve`: pointer strokes on #canvas, sent as a PNG to
// POST /api/predict while you write; the answer's number fills #prediction,
// each digit's box is drawn over the canvas (#boxes), and #digits shows, per
// digit, the 28x28 image the network read and its ten probabilities.
"use strict";

const STROKE_WIDTH = 22; // of a 280 px high canvas: MNIST's strokes are 1/8 of a digit
const DEBOUNCE_MS = 40; // a prediction at most this long after a stroke moves
const MAX_BODY_BYTES = 5000000; // the server's limit (413 above it)
// The drawing is sent at half size: the model sees 28x28 per digit anyway, and
// the server's preprocessing time grows with the number of pixels.
const UPLOAD_SCALE = 0.5;
const EMPTY_HINT =
  "Write a number in the box with the mouse, a finger or a pen, or choose a photo. " +
  "Esc clears.";
const NO_DIGIT = "no digit";

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const prediction = document.getElementById("prediction");
const statusLine = document.getElementById("status");
const boxes = document.getElementById("boxes");
const cards = document.getElementById("digits");
const fileInput = document.getElementById("file");
const upload = document.createElement("canvas");
upload.width = Math.round(canvas.width * UPLOAD_SCALE);
upload.height = Math.round(canvas.height * UPLOAD_SCALE);

// How the pixels of the image sent map onto the canvas: x_canvas = dx + scale * x.
const DRAWING_VIEW = { scale: 1 / UPLOAD_SCALE, dx: 0, dy: 0 };

const state = {
  drawing: null, // the id of the pointer drawing, if any
  last: null, // its last point
  hasInk: false,
  photo: false, // the canvas shows a photo, not a drawing
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
  state.photo = false;
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
  ctx.lineWidth = (STROKE_WIDTH * canvas.height) / 280;
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
  if (state.photo) clearAll(); // writing starts a new drawing
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
  small.drawImage(canvas, 0, 0, upload.width, upload.height);
  upload.toBlob(
    (blob) => send(blob, "image/png", { generation, version, source: "", view: DRAWING_VIEW }),
    "image/png",
  );
}

// request: {generation, version, source (a file's name and ": ", or ""), view}
function send(body, type, request) {
  state.busy = true;
  fetch("/api/predict", { method: "POST", headers: { "Content-Type": type }, body })
    .then((response) =>
      response.json().then((answer) => ({ ok: response.ok, answer })),
    )
    .then(({ ok, answer }) => {
      if (request.generation !== state.generation) return;
      if (!ok) return showError(request.source + answer.error);
      showAnswer(answer, request);
      const current = request.version === state.version && state.drawing === null;
      setState(current ? "ready" : "pending");
    })
    .catch((error) => {
      if (request.generation === state.generation) {
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

function showAnswer(answer, request) {
  const found = answer.digits;
  prediction.textContent = answer.text || NO_DIGIT;
  prediction.classList.toggle("none", !answer.text);
  statusLine.classList.remove("error");
  if (!answer.text) {
    statusLine.textContent =
      `${request.source}nothing here looks like a digit 0-9 to the network`;
  } else if (found.length === 1) {
    statusLine.textContent = `${request.source}probability ${found[0].probability.toFixed(3)}`;
  } else {
    const read = answer.text.length;
    const others = found.length - read;
    statusLine.textContent =
      `${request.source}${read > 1 ? `${read} digits, left to right` : "1 digit"}` +
      (others ? `, and ${others} mark${others > 1 ? "s" : ""} not read as a digit` : "");
  }
  drawBoxes(found, request.view);
  drawCards(found);
}

// No answer to show: an error, or the empty canvas's hint.
function showNoAnswer(message, name) {
  prediction.textContent = "";
  prediction.classList.remove("none");
  statusLine.textContent = message;
  statusLine.classList.toggle("error", name === "error");
  setState(name);
  drawBoxes([], DRAWING_VIEW);
  drawCards([]);
}

function showError(message) {
  showNoAnswer(message, "error");
}

function showEmpty() {
  showNoAnswer(EMPTY_HINT, "empty");
}

function labelOf(digit) {
  return digit.label === null ? "not a digit" : String(digit.label);
}

// Each digit's box over the canvas, in percent of the canvas so that it
// follows the canvas's displayed size.
function drawBoxes(found, view) {
  boxes.replaceChildren();
  for (const digit of found) {
    const [x0, y0, x1, y1] = digit.box;
    const box = document.createElement("div");
    box.className = digit.label === null ? "box not-digit" : "box";
    box.style.left = `${(100 * (view.dx + view.scale * x0)) / canvas.width}%`;
    box.style.top = `${(100 * (view.dy + view.scale * y0)) / canvas.height}%`;
    box.style.width = `${(100 * view.scale * (x1 - x0)) / canvas.width}%`;
    box.style.height = `${(100 * view.scale * (y1 - y0)) / canvas.height}%`;
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = digit.label === null ? "?" : String(digit.label);
    box.append(tag);
    boxes.append(box);
  }
}

// One card per digit found: its label and probability, the 28x28 image the
// network read, and its ten probabilities.
function drawCards(found) {
  cards.replaceChildren();
  found.forEach((digit, i) => {
    const card = document.createElement("figure");
    card.className = digit.label === null ? "digit not-digit" : "digit";
    const caption = document.createElement("figcaption");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = labelOf(digit);
    const p = document.createElement("span");
    p.className = "p";
    p.textContent = digit.probability.toFixed(3);
    caption.append(label, " ", p);
    const seen = document.createElement("canvas");
    seen.className = "seen";
    seen.width = seen.height = 56;
    seen.setAttribute("aria-label", `digit ${i + 1}: the 28 by 28 pixel image the network read`);
    drawSeen(seen, digit.image28);
    card.append(caption, seen, bars(digit));
    cards.append(card);
  });
}

function bars(digit) {
  const list = document.createElement("div");
  list.className = "probabilities";
  const best = digit.probabilities.indexOf(Math.max(...digit.probabilities));
  digit.probabilities.forEach((p, label) => {
    const row = document.createElement("div");
    row.className = label === best ? "bar-row best" : "bar-row";
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
    value.textContent = p.toFixed(2);
    row.append(name, track, value);
    list.append(row);
  });
  list.setAttribute("role", "img");
  list.setAttribute(
    "aria-label",
    `${labelOf(digit)}: ` + digit.probabilities.map((p, l) => `${l}: ${p.toFixed(2)}`).join(", "),
  );
  return list;
}

function drawSeen(seen, image28) {
  const view = seen.getContext("2d");
  const cell = seen.width / 28;
  view.fillStyle = "#000";
  view.fillRect(0, 0, seen.width, seen.height);
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

// A photo is shown in the canvas, upright as the browser shows it (by its EXIF
// tag, as the server reads it), scaled to fit; the boxes follow that fit.
function showPhoto(file) {
  if (!window.createImageBitmap) return Promise.resolve(null);
  return createImageBitmap(file).then(
    (bitmap) => {
      const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
      const view = {
        scale,
        dx: (canvas.width - scale * bitmap.width) / 2,
        dy: (canvas.height - scale * bitmap.height) / 2,
      };
      ctx.drawImage(bitmap, view.dx, view.dy, scale * bitmap.width, scale * bitmap.height);
      state.photo = true;
      return view;
    },
    () => null, // the browser cannot show it; the server says why
  );
}

fileInput.addEventListener("change", () => {
  const file = fileInput.files[0];
  if (!file) return;
  state.generation += 1;
  clearCanvas();
  const source = `${file.name}: `;
  if (file.size > MAX_BODY_BYTES) {
    showError(`${file.name} is over 5 MB: choose a smaller photo`);
    return;
  }
  statusLine.textContent = `reading ${file.name}...`;
  setState("pending");
  const generation = state.generation;
  const type = file.type || "application/octet-stream";
  showPhoto(file).then((view) => {
    if (generation !== state.generation) return;
    send(file, type, { generation, version: state.version, source, view: view || DRAWING_VIEW });
  });
});

clearCanvas();
showEmpty();
