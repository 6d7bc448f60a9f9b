// prodgen studio: the pages' one script. Every action goes through the REST API under /api, with the
// session cookie and, on state-changing requests, the prodgen_csrf cookie's value in X-CSRF-Token.
// The DOM is built with textContent, never innerHTML, so nothing from the server is run as markup.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const ACTIVE = ["queued", "running"];
  const ROLES = ["viewer", "editor", "reviewer", "admin"];
  const role = document.body.dataset.role || "";
  const can = (needed) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

  // -- helpers ----------------------------------------------------------------------------------------------------
  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return "";
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function say(message, kind = "info") {
    const box = $("#status");
    if (!box) return;
    box.textContent = message || "";
    box.className = "status" + (kind === "error" ? " error" : "");
  }

  function errorText(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail)) {
      return data.detail.map((d) => `${(d.loc || []).filter((x) => x !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return `the server answered ${status}`;
  }

  class ApiError extends Error {
    constructor(message, status, retryAfter) { super(message); this.status = status; this.retryAfter = retryAfter; }
  }

  async function api(path, { method = "GET", json, form } = {}) {
    const headers = { Accept: "application/json" };
    if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = cookie("prodgen_csrf");
    let body;
    if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
    if (form !== undefined) body = form;
    const r = await fetch(path, { method, headers, body, credentials: "same-origin" });
    if (r.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError("not logged in", 401);
    }
    const data = (r.headers.get("content-type") || "").includes("json") ? await r.json().catch(() => null) : null;
    if (!r.ok) {
      let msg = errorText(data, r.status);
      const retry = r.headers.get("Retry-After");
      if (r.status === 429) msg = `The queue is full. Try again in ${retry || "a few"} seconds. (${msg})`;
      throw new ApiError(msg, r.status, retry);
    }
    return data;
  }

  const imageUrl = (id) => `/api/assets/${encodeURIComponent(id)}/image`;
  const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z?$|Z$/, "") : "");
  const fmt = (x, d = 2) => (typeof x === "number" ? x.toFixed(d) : x === null || x === undefined ? "–" : String(x));
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

  async function guard(fn, button) {
    if (button) button.disabled = true;
    try { return await fn(); }
    catch (e) { if (e.status !== 401) say(e.message, "error"); }
    finally { if (button) button.disabled = false; }
  }

  async function upload(file) {
    const form = new FormData();
    form.append("file", file, file.name || "upload");
    return api("/api/uploads", { method: "POST", form });
  }

  // Follow one job until it ends; calls onUpdate(job) after each poll.
  async function follow(jobId, onUpdate) {
    for (;;) {
      const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
      onUpdate(job);
      if (!ACTIVE.includes(job.status)) return job;
      await sleep(1000);
    }
  }

  function stateBadge(state) { return el("span", { class: `state ${state}`, text: state }); }

  // -- fidelity (shared by edit and review) ------------------------------------------------------------------------
  function fidelityView(f) {
    if (!f) return el("p", { class: "help", text: "No fidelity check for this image." });
    if (f.error) return el("p", { class: "error", text: f.error });
    const rows = Array.isArray(f) ? f : f.attributes;
    if (Array.isArray(rows)) { // generated: requested vs what ProductNet reads
      const table = el("table", { class: "mini" },
        el("caption", { class: "visually-hidden", text: "Requested attributes and what ProductNet reads" }),
        el("thead", {}, el("tr", {}, ["attribute", "requested", "reads as", "confidence", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows.map((r) => el("tr", {},
          el("td", { text: r.attribute }), el("td", { text: r.requested ?? "–" }), el("td", { text: r.read ?? "–" }),
          el("td", { text: r.confidence === null || r.confidence === undefined ? "–" : `${Math.round(r.confidence * 100)}%` }),
          el("td", { class: r.match === false ? "flag" : r.match ? "fine" : "", text: r.match === false ? "differs" : r.match ? "matches" : "" })))));
      return el("div", { class: "fidelity" }, table, f.note ? el("p", { class: "help", text: f.note }) : null);
    }
    const c = f.colour || {};
    return el("div", { class: "fidelity" },
      el("p", { class: f.flagged ? "flag" : "fine",
        text: f.flagged ? "Flagged: the product changed more than the thresholds allow" : "Product unchanged within thresholds" }),
      f.reasons && f.reasons.length ? el("ul", {}, f.reasons.map((r) => el("li", { text: r }))) : null,
      el("table", { class: "mini" },
        el("caption", { class: "visually-hidden", text: "How much the product changed" }),
        el("tbody", {},
          el("tr", {}, el("th", { scope: "row", text: "pixel difference (0-255)" }), el("td", { text: fmt(f.pixel_mad) })),
          el("tr", {}, el("th", { scope: "row", text: "colour difference CIEDE2000, mean / 95th pct" }),
            el("td", { text: `${fmt(f.de_mean)} / ${fmt(f.de_p95)}` })),
          el("tr", {}, el("th", { scope: "row", text: "product colour before → after" }),
            el("td", { text: `${c.source_median || "–"} (${c.source_reads_as || "?"}) → ${c.edited_median || "–"} (${c.edited_reads_as || "?"})` })),
          c.stated ? el("tr", {}, el("th", { scope: "row", text: `vs stated colour ${c.stated}` }),
            el("td", { text: c.de_stated_edited === null || c.de_stated_edited === undefined ? (c.note || "–")
              : `CIEDE2000 ${fmt(c.de_stated_source, 1)} → ${fmt(c.de_stated_edited, 1)}` })) : null)),
      (f.notes || []).length ? el("p", { class: "help", text: f.notes.join("; ") }) : null);
  }

  // -- generate -----------------------------------------------------------------------------------------------------
  function showJob(job) {
    const panel = $("#job-panel");
    panel.hidden = false;
    const line = $("#job-line");
    line.replaceChildren(`Job ${job.id}: `, stateBadge(job.status),
      job.error ? el("span", { class: "error", text: ` ${job.error}` }) : "");
    $("#job-progress").value = job.progress || 0;
    $("#job-outputs").replaceChildren(...(job.outputs || []).map((id) =>
      el("a", { href: "/review" }, el("img", { src: imageUrl(id), alt: `Result ${id}, waiting for review`, loading: "lazy" }))));
  }

  // The Generate page's drawing canvas for sketch models: pen, fill and eraser strokes on a white 256 x 256 bitmap,
  // with undo (a snapshot before each stroke) and clear. What it draws is uploaded like a chosen file (POST /api/uploads).
  function sketchPad() {
    const box = $("#sketch-draw"), canvas = $("#sketch-canvas"), file = $("#sketch");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const INK = [27, 31, 36], MAX_UNDO = 40;
    const undo = [];
    let last = null, inked = false;
    const blank = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
    const tool = () => ($$("input[name=sketch-tool]").find((r) => r.checked) || { value: "pen" }).value;
    const toCanvas = (ev) => {
      const r = canvas.getBoundingClientRect();
      return { x: (ev.clientX - r.left) * (canvas.width / r.width), y: (ev.clientY - r.top) * (canvas.height / r.height) };
    };
    const hasInk = () => { // anything darker than the paper left on the canvas (an erased drawing counts as none)
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) return true;
      return false;
    };
    const sync = () => {
      inked = hasInk();
      $("#sketch-undo").disabled = !undo.length;
      $("#sketch-clear").disabled = !inked;
      const chosen = file.files.length > 0;
      $("#sketch-forget-file").hidden = !(chosen && inked);
      const state = !inked ? "Nothing drawn yet."
        : chosen ? "A file is chosen above, so the file is used and this drawing is not."
          : "The drawing is used as the sketch when you press Generate.";
      const said = $("#sketch-draw-state"); // a live region: written only when it says something new
      if (said.textContent !== state) said.textContent = state;
    };
    const remember = () => {
      undo.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
      if (undo.length > MAX_UNDO) undo.shift();
    };
    const line = (a, b) => {
      const eraser = tool() === "eraser";
      ctx.strokeStyle = ctx.fillStyle = eraser ? "#fff" : `rgb(${INK.join(",")})`;
      ctx.lineWidth = Number($("#sketch-width").value) * (eraser ? 2 : 1);
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath();
      if (a.x === b.x && a.y === b.y) { ctx.arc(a.x, a.y, ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); return; }
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
    };
    // Flood fill with ink from (x, y) over the connected light pixels (a closed outline keeps it inside).
    const fill = (x0, y0) => {
      const w = canvas.width, h = canvas.height;
      const img = ctx.getImageData(0, 0, w, h), d = img.data;
      const light = (p) => d[4 * p] + d[4 * p + 1] + d[4 * p + 2] > 3 * 160; // not ink, nor a line's dark edge
      const start = Math.floor(y0) * w + Math.floor(x0);
      if (!light(start)) return;
      const seen = new Uint8Array(w * h), stack = [start];
      seen[start] = 1;
      while (stack.length) {
        const p = stack.pop(), px = p % w;
        d[4 * p] = INK[0]; d[4 * p + 1] = INK[1]; d[4 * p + 2] = INK[2]; d[4 * p + 3] = 255;
        for (const q of [px > 0 ? p - 1 : -1, px < w - 1 ? p + 1 : -1, p - w, p + w]) {
          if (q >= 0 && q < w * h && !seen[q] && light(q)) { seen[q] = 1; stack.push(q); }
        }
      }
      ctx.putImageData(img, 0, 0);
    };

    canvas.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0 || box.hidden) return;
      ev.preventDefault();
      remember();
      const at = toCanvas(ev);
      if (tool() === "fill") { fill(at.x, at.y); sync(); return; }
      try { canvas.setPointerCapture(ev.pointerId); } catch (_) { /* a pointer the browser no longer tracks */ }
      last = at;
      line(at, at);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!last) return;
      const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
      for (const e of events.length ? events : [ev]) { const at = toCanvas(e); line(last, at); last = at; }
    });
    const end = () => { if (last) { last = null; sync(); } };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    $("#sketch-undo").addEventListener("click", () => { if (undo.length) ctx.putImageData(undo.pop(), 0, 0); sync(); });
    $("#sketch-clear").addEventListener("click", () => { remember(); blank(); sync(); });
    $("#sketch-forget-file").addEventListener("click", () => { file.value = ""; sync(); });
    file.addEventListener("change", sync);
    blank();
    sync();

    return {
      // Shown (and used) only for a model trained with an image condition, and only to those who may request images.
      show(model) {
        const cond = model && model.image_condition;
        box.hidden = !(cond && can("editor"));
        $("#sketch-draw-model").textContent = cond === "silhouette"
          ? "This model reads a silhouette: fill the shape."
          : cond ? `This model reads ${cond}: draw the outline.` : "";
      },
      drawing: () => !box.hidden && inked, // the drawing is used only when no file is chosen (see submit)
      blob: () => new Promise((resolve, reject) => canvas.toBlob((b) => (b
        ? resolve(new File([b], "drawing.png", { type: "image/png" }))
        : reject(new Error("the drawing could not be saved as a PNG"))), "image/png")),
    };
  }

  async function initGenerate() {
    const select = $("#model");
    let models = [];
    try { models = await api("/api/models"); } catch (e) { say(e.message, "error"); return; }
    select.replaceChildren(models.length ? null : el("option", { value: "", text: "No models found under --runs" }),
      ...models.map((m) => el("option", { value: m.id, text: `${m.id} (${m.family}, ${m.resolution}px)` })));
    const byId = Object.fromEntries(models.map((m) => [m.id, m]));
    const pad = sketchPad();
    const fillAttributes = () => {
      const m = byId[select.value];
      pad.show(m);
      $("#sketch-snap-box").hidden = !(m && m.image_condition && m.shape_index && can("editor"));
      if ($("#sketch-snap-box").hidden) $("#sketch-snap").checked = false;
      $("#sketch-shape-box").hidden = !(m && m.image_condition === "silhouette" && m.shape_index && can("editor"));
      if ($("#sketch-shape-box").hidden) $("#sketch-shape").value = "0";
      $("#sketch-close-box").hidden = !(m && m.image_condition === "silhouette" && can("editor"));
      if ($("#sketch-close-box").hidden) $("#sketch-close").checked = false;
      const box = $("#attributes");
      const grid = el("div", { class: "attr-grid" });
      for (const [name, values] of Object.entries((m && m.attributes) || {})) {
        const id = `attr-${name}`;
        grid.append(el("div", {},
          el("label", { for: id, text: name }),
          el("select", { id, name, "data-attribute": name },
            el("option", { value: "", text: "any" }), values.map((v) => el("option", { value: v, text: v })))));
      }
      box.replaceChildren(el("legend", { text: "Attributes" }), grid);
      const prompt = $("#prompt");
      prompt.disabled = !(m && (m.text || m.title_prior));
      prompt.placeholder = m && m.text ? "e.g. red striped t-shirt"
        : m && m.title_prior ? "a product title, e.g. red striped t-shirt (its title prior picks the attributes)"
        : "this model was trained without titles";
    };
    select.addEventListener("change", fillAttributes);
    fillAttributes();

    $("#generate-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const attributes = {};
      for (const s of $$("[data-attribute]")) if (s.value) attributes[s.dataset.attribute] = s.value;
      const body = { kind: "generate", model: select.value, attributes, prompt: $("#prompt").value.trim() || null,
        n: Number($("#n").value), seed: Number($("#seed").value) };
      if (!body.model) { say("Choose a model first.", "error"); return; }
      const file = $("#sketch").files[0]; // a chosen file wins over a drawing
      const drawn = !file && pad.drawing();
      const m = byId[body.model];
      if (m && m.image_condition && !file && !drawn) {
        say(`Model ${m.id} draws from a sketch: choose a sketch file or draw one on the canvas.`, "error");
        return;
      }
      guard(async () => {
        const sketch = file || (drawn ? await pad.blob() : null);
        if (sketch) body.sketch_asset_id = (await upload(sketch)).asset_id;
        if (sketch && $("#sketch-snap").checked) body.sketch_snap = true;
        if (sketch && Number($("#sketch-shape").value) > 0) body.sketch_shape = Number($("#sketch-shape").value);
        if (sketch && $("#sketch-close").checked) body.sketch_close = true;
        const job = await api("/api/jobs", { method: "POST", json: body });
        const from = file ? ` from the sketch file ${file.name}` : drawn ? " from your drawing" : "";
        say(`Job ${job.id} queued: ${body.n} image(s)${from}. They go to the review queue when done.`);
        await follow(job.id, showJob);
      }, $("#generate-submit"));
    });

    $("#fill-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const file = $("#csv").files[0];
      if (!file) { say("Choose a CSV file first.", "error"); return; }
      if (!select.value) { say("Choose a model first.", "error"); return; }
      guard(async () => {
        const up = await upload(file);
        const job = await api("/api/jobs", { method: "POST", json: { kind: "fill", model: select.value, csv_asset_id: up.asset_id } });
        say(`Fill job ${job.id} queued.`);
        await follow(job.id, showJob);
      }, $("#fill-submit"));
    });
  }

  // -- edit ---------------------------------------------------------------------------------------------------------
  function initEdit() {
    let sourceId = null;
    const before = $("#before"), after = $("#after"), canvas = $("#mask");
    const mask = document.createElement("canvas"); // the painted mask at the photo's own pixel size
    let cursor = { x: 0, y: 0 }, painting = false;

    for (const [input, out] of [["#brightness", "#brightness-out"], ["#temperature", "#temperature-out"], ["#brush", "#brush-out"]]) {
      $(input).addEventListener("input", () => { $(out).textContent = Number($(input).value).toFixed(input === "#brush" ? 0 : 2); });
    }
    const operation = () => $$("input[name=operation]").find((r) => r.checked).value;
    const inpainting = () => operation() === "restore" && $("#task").value === "inpaint";
    const syncOptions = () => {
      $("#restage-options").hidden = operation() !== "restage";
      $("#restore-options").hidden = operation() !== "restore";
      $("#mask-tools").hidden = !inpainting();
      canvas.hidden = !inpainting() || before.hidden;
    };
    $$("input[name=operation]").forEach((r) => r.addEventListener("change", syncOptions));
    $("#task").addEventListener("change", syncOptions);
    api("/api/restorers").then((runs) => {
      for (const r of runs) {
        const o = document.createElement("option");
        o.value = r.id;
        o.textContent = `${r.id} (${r.tasks.join(", ")})`;
        $("#restore-model").append(o);
      }
    }).catch((e) => say(e.message, "error"));

    // The brush size is in screen pixels: the same on a 200-pixel photo and a 4000-pixel one.
    const radius = () => (Number($("#brush").value) / 2) * (canvas.width / (canvas.getBoundingClientRect().width || canvas.width));
    const redraw = () => {
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.globalAlpha = 0.5;
      ctx.drawImage(mask, 0, 0);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = "#ff9f1c";
      ctx.lineWidth = Math.max(1, canvas.width / 200);
      ctx.beginPath();
      ctx.arc(cursor.x, cursor.y, radius(), 0, 2 * Math.PI);
      ctx.stroke();
    };
    const dab = (x, y) => {
      const ctx = mask.getContext("2d");
      ctx.fillStyle = "#ff0000";
      ctx.beginPath();
      ctx.arc(x, y, radius(), 0, 2 * Math.PI);
      ctx.fill();
    };
    const toCanvas = (ev) => {
      const r = canvas.getBoundingClientRect();
      return { x: (ev.clientX - r.left) * (canvas.width / r.width), y: (ev.clientY - r.top) * (canvas.height / r.height) };
    };
    canvas.addEventListener("pointerdown", (ev) => { painting = true; canvas.setPointerCapture(ev.pointerId); cursor = toCanvas(ev); dab(cursor.x, cursor.y); redraw(); });
    canvas.addEventListener("pointermove", (ev) => { cursor = toCanvas(ev); if (painting) dab(cursor.x, cursor.y); redraw(); });
    canvas.addEventListener("pointerup", () => { painting = false; });
    canvas.addEventListener("keydown", (ev) => {
      const step = Math.max(2, Math.round(canvas.width / 50));
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[ev.key]) {
        cursor = { x: Math.min(canvas.width, Math.max(0, cursor.x + moves[ev.key][0])), y: Math.min(canvas.height, Math.max(0, cursor.y + moves[ev.key][1])) };
        if (ev.shiftKey) dab(cursor.x, cursor.y);
      } else if (ev.key === " " || ev.key === "Enter") dab(cursor.x, cursor.y);
      else return;
      ev.preventDefault();
      redraw();
    });
    $("#mask-clear").addEventListener("click", () => { mask.getContext("2d").clearRect(0, 0, mask.width, mask.height); redraw(); });

    before.addEventListener("load", () => {
      for (const c of [canvas, mask]) { c.width = before.naturalWidth; c.height = before.naturalHeight; }
      cursor = { x: canvas.width / 2, y: canvas.height / 2 };
      syncOptions();
      redraw();
    });

    $("#photo").addEventListener("change", () => {
      const file = $("#photo").files[0];
      if (!file) return;
      guard(async () => {
        say("Uploading…");
        const up = await upload(file);
        sourceId = up.asset_id;
        before.src = imageUrl(sourceId);
        before.hidden = false;
        after.hidden = true;
        $("#edit-fidelity").replaceChildren();
        say(`Uploaded: ${up.width}×${up.height} pixels.`);
      });
    });

    const maskBlob = () => new Promise((resolve) => {
      const out = document.createElement("canvas");
      out.width = mask.width; out.height = mask.height;
      const ctx = out.getContext("2d");
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, out.width, out.height);
      const src = mask.getContext("2d").getImageData(0, 0, mask.width, mask.height);
      const dst = ctx.getImageData(0, 0, out.width, out.height);
      for (let i = 0; i < src.data.length; i += 4) if (src.data[i + 3] > 0) { dst.data[i] = dst.data[i + 1] = dst.data[i + 2] = 255; }
      ctx.putImageData(dst, 0, 0);
      out.toBlob(resolve, "image/png");
    });

    const restageParams = () => {
      const kind = $("#background-kind").value, c1 = $("#background-colour").value, c2 = $("#background-colour2").value;
      const p = { background: kind === "gradient" ? `gradient:${c1}:${c2}` : `${kind}:${c1}`, shadow: $("#shadow").checked,
        brightness: Number($("#brightness").value), temperature: Number($("#temperature").value) };
      if ($("#recolour-on").checked) p.recolour = $("#recolour").value;
      return p;
    };

    $("#edit-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!sourceId) { say("Upload a photo first.", "error"); return; }
      guard(async () => {
        const body = { kind: "edit", asset_id: sourceId, operation: operation() };
        body.params = body.operation === "restage" ? restageParams() : { task: $("#task").value };
        if (body.operation === "restore" && $("#restore-model").value) body.params.model = $("#restore-model").value;
        const stated = $("#stated-colour") && $("#stated-colour").value;
        if (stated) body.params.stated_colour = stated;
        if (inpainting()) {
          const up = await upload(new File([await maskBlob()], "mask.png", { type: "image/png" }));
          body.mask_asset_id = up.asset_id;
        }
        const job = await api("/api/jobs", { method: "POST", json: body });
        say(`Edit job ${job.id} queued.`);
        const done = await follow(job.id, (j) => { $("#after-state").replaceChildren(stateBadge(j.status)); });
        if (done.status === "failed") { say(`The edit failed: ${done.error}`, "error"); return; }
        if (done.status !== "done" || !(done.outputs || []).length) { say(`The edit ended ${done.status}.`, "error"); return; }
        const out = done.outputs[0];
        after.src = imageUrl(out);
        after.hidden = false;
        const asset = await api(`/api/assets/${encodeURIComponent(out)}`);
        $("#edit-fidelity").replaceChildren(el("h3", { text: "How much the product changed" }), fidelityView(asset.fidelity));
        const method = asset.meta && asset.meta.params && asset.meta.params.method;
        say(method ? `Done (${method}). The edit is waiting in the review queue.` : "Done. The edit is waiting in the review queue.");
      }, $("#edit-submit"));
    });
    syncOptions();
  }

  // -- jobs ---------------------------------------------------------------------------------------------------------
  async function initJobs() {
    const body = $("#jobs-table tbody");
    const cancel = (id, button) => guard(async () => {
      await api(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
      say(`Cancel asked for job ${id}.`);
      await refresh();
    }, button);
    async function refresh() {
      const data = await api("/api/jobs");
      const jobs = Array.isArray(data) ? data : data.jobs || [];
      body.replaceChildren(...(jobs.length ? jobs.map((j) => el("tr", { "data-job": j.id },
        el("td", {}, el("code", { text: j.id })),
        el("td", { text: j.kind }),
        el("td", {}, stateBadge(j.status), j.error ? el("p", { class: "error", text: j.error }) : null),
        el("td", {}, el("progress", { max: 1, value: j.progress || 0, "aria-label": `Progress of job ${j.id}` }),
          ` ${Math.round((j.progress || 0) * 100)}%`),
        el("td", { text: j.created_by || "" }),
        el("td", { text: when(j.created_at) }),
        el("td", {}, el("div", { class: "thumbs small" }, (j.outputs || []).slice(0, 8).map((id) =>
          el("img", { src: imageUrl(id), alt: `Result ${id}`, loading: "lazy" })))),
        el("td", {}, ACTIVE.includes(j.status) && can("editor")
          ? el("button", { type: "button", class: "small danger", text: "Cancel", "aria-label": `Cancel job ${j.id}`,
            onclick: (ev) => cancel(j.id, ev.currentTarget) }) : null)))
        : [el("tr", {}, el("td", { colspan: 8, text: "No jobs yet. Request images on the Generate or Edit page." }))]));
      return jobs.some((j) => ACTIVE.includes(j.status));
    }
    for (;;) {
      let active = false;
      try { active = await refresh(); } catch (e) { if (e.status === 401) return; say(e.message, "error"); }
      await sleep(active ? 2000 : 10000);
    }
  }

  // -- review -------------------------------------------------------------------------------------------------------
  async function initReview() {
    const list = $("#review-list");
    const decide = (ids, decision, reason, button) => guard(async () => {
      if (!ids.length) { say("Select one or more images first.", "error"); return; }
      if (decision === "reject" && !reason.trim()) { say("Give a reason to reject (the audit log keeps it).", "error"); return; }
      await api("/api/review", { method: "POST", json: { asset_ids: ids, decision, reason: reason.trim() || null } });
      say(`${ids.length} image(s) ${decision === "approve" ? "approved" : "rejected"}.`);
      await load();
    }, button);

    function item(a) {
      const req = a.request || {};
      const attrs = req.attributes || a.attributes || {};
      const nearest = a.nearest || a.nearest_training || [];
      const shape = (a.meta || {}).shape_of; // --sketch-snap: the training photo whose shape the image took
      const fields = [
        ["Kind", a.kind], ["Model", a.model || req.model], ["Seed", a.seed ?? req.seed],
        ["Attributes", Object.entries(attrs).map(([k, v]) => `${k}=${v}`).join(", ") || "any"],
        ["Prompt", req.prompt], ["Operation", req.operation],
        ["Shape of", shape && `catalog photo ${shape.id}${shape.mirrored ? " (mirrored)" : ""}, snapped from the sketch`],
        ["Sketch shape", req.sketch_shape && `pulled towards the type's catalog shapes (K=${req.sketch_shape})`],
        ["Sketch outline", req.sketch_close && "open outline closed before filling"],
        ["Job", a.job_id], ["Requested by", a.created_by || req.created_by],
        ["State", a.review], ["Reason", a.reason],
      ].filter(([, v]) => v !== undefined && v !== null && v !== "");
      const check = can("reviewer") && a.review === "pending"
        ? el("input", { type: "checkbox", class: "pick", value: a.id, "aria-label": `Select image ${a.id}` }) : el("span");
      const reasonId = `reason-${a.id}`;
      return el("article", { class: "card review-item", "data-asset": a.id, "aria-label": `Image ${a.id}` },
        check,
        el("img", { class: "main-image", src: imageUrl(a.id), alt: `Image ${a.id} waiting for review` }),
        el("div", {},
          el("dl", {}, fields.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])),
          el("h3", { text: a.kind === "edited" ? "How much the product changed" : "Requested vs what the image shows" }),
          fidelityView(a.fidelity),
          shape && shape.sha256 ? el("figure", { class: "shape-source" },
            el("img", { src: `/api/assets/${encodeURIComponent(a.id)}/shape`, alt: `Catalog photo ${shape.id}, whose shape this image took`, loading: "lazy" }),
            el("figcaption", { text: `Shape from catalog photo ${shape.id}${shape.mirrored ? " (mirrored)" : ""}` })) : null,
          el("h3", { text: "Nearest training photos" }),
          nearest.length ? el("div", { class: "thumbs small" }, nearest.map((n) => el("figure", {},
            el("img", { src: n.image || n.url || imageUrl(n.asset_id || n.id), alt: `Training photo ${n.id || ""}`, loading: "lazy" }),
            el("figcaption", { text: n.distance !== undefined ? `d=${fmt(n.distance)}` : "" }))))
            : el("p", { class: "help", text: a.nearest_note || "None available for this image." }),
          can("reviewer") && a.review === "pending" ? el("div", { class: "decide" },
            el("button", { type: "button", class: "primary", text: "Approve", "aria-label": `Approve image ${a.id}`,
              onclick: (ev) => decide([a.id], "approve", "", ev.currentTarget) }),
            el("label", { for: reasonId, class: "visually-hidden", text: `Reason to reject image ${a.id}` }),
            el("input", { id: reasonId, type: "text", placeholder: "Reason to reject", maxlength: 500 }),
            el("button", { type: "button", class: "danger", text: "Reject", "aria-label": `Reject image ${a.id}`,
              onclick: (ev) => decide([a.id], "reject", $(`#${CSS.escape(reasonId)}`).value, ev.currentTarget) })) : null));
    }

    async function load() {
      const state = $("#review-state").value;
      const data = await api(`/api/review?state=${encodeURIComponent(state)}`);
      const items = Array.isArray(data) ? data : data.items || data.assets || [];
      list.replaceChildren(...(items.length ? items.map(item)
        : [el("p", { text: state === "pending" ? "Nothing is waiting for review." : `No ${state} images.` })]));
      if ($("#select-all")) $("#select-all").checked = false;
    }
    $("#review-state").addEventListener("change", () => guard(load));
    if ($("#select-all")) {
      const picked = () => $$(".pick:checked").map((c) => c.value);
      $("#select-all").addEventListener("change", (ev) => { for (const c of $$(".pick")) c.checked = ev.target.checked; });
      $("#bulk-approve").addEventListener("click", (ev) => decide(picked(), "approve", "", ev.currentTarget));
      $("#bulk-reject").addEventListener("click", (ev) => decide(picked(), "reject", $("#bulk-reason").value, ev.currentTarget));
    }
    await guard(load);
  }

  // -- exports ------------------------------------------------------------------------------------------------------
  function initExports() {
    const zipUrl = (id) => `/api/exports/${encodeURIComponent(id)}/zip`;
    async function history() {
      const rows = await api("/api/exports");
      $("#exports-table tbody").replaceChildren(...(rows.length ? rows.map((e) => el("tr", {},
        el("td", { text: when(e.created_at) }), el("td", { text: e.profile }), el("td", { text: (e.files || []).length }),
        el("td", { text: (e.refused || []).length }), el("td", { text: e.created_by }),
        el("td", {}, (e.files || []).length ? el("a", { href: zipUrl(e.id), download: "", text: "Download",
          "aria-label": `Download the ${e.profile} export of ${when(e.created_at)}` }) : "empty")))
        : [el("tr", {}, el("td", { colspan: 6, text: "No exports yet." }))]));
    }
    guard(history);
    $("#export-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const profile = $$("input[name=profile]").find((r) => r.checked).value;
      guard(async () => {
        const res = await api("/api/exports", { method: "POST", json: { profile } });
        $("#export-result").hidden = false;
        const files = res.files || [], refused = res.refused || [];
        $("#export-summary").textContent = `Profile ${profile}: ${files.length} file(s) exported, ${refused.length} refused.`;
        const link = $("#export-download");
        link.href = zipUrl(res.id);
        link.hidden = !files.length;
        $("#export-files").replaceChildren(...(files.length ? files.map((f) => el("li", {}, el("code", { text: typeof f === "string" ? f : f.name || JSON.stringify(f) })))
          : [el("li", { text: "None: nothing approved fits this profile." })]));
        $("#export-refused").replaceChildren(...(refused.length ? refused.map((r) => el("li", {}, el("code", { text: r.asset_id }), `: ${r.reason}`))
          : [el("li", { text: "None." })]));
        say("Export ready.");
        await history();
      }, $("#export-submit"));
    });
  }

  // -- audit --------------------------------------------------------------------------------------------------------
  async function initAudit() {
    await guard(async () => {
      const data = await api("/api/audit");
      const rows = Array.isArray(data) ? data : data.entries || data.items || [];
      $("#audit-table tbody").replaceChildren(...(rows.length ? rows.map((r) => el("tr", {},
        el("td", { text: when(r.at || r.created_at || r.time) }), el("td", { text: r.actor || r.who || "" }),
        el("td", { text: r.role || "" }), el("td", { text: r.action || "" }), el("td", {}, el("code", { text: r.target || "" })),
        el("td", { text: r.detail && Object.keys(r.detail).length ? JSON.stringify(r.detail) : "" })))
        : [el("tr", {}, el("td", { colspan: 6, text: "Nothing logged yet." }))]));
    });
  }

  // -- tokens -------------------------------------------------------------------------------------------------------
  async function initTokens() {
    const body = $("#tokens-table tbody");
    async function load() {
      const data = await api("/api/tokens");
      const rows = Array.isArray(data) ? data : data.tokens || [];
      body.replaceChildren(...rows.map((t) => el("tr", {},
        el("td", { text: t.id }), el("td", { text: t.name }), el("td", { text: t.role }), el("td", { text: when(t.created_at) }),
        el("td", { text: when(t.last_used_at) || "never" }), el("td", {}, stateBadge(t.revoked_at ? "revoked" : "active")),
        el("td", {}, t.revoked_at ? null : el("button", { type: "button", class: "small danger", text: "Revoke",
          "aria-label": `Revoke token ${t.id} (${t.name})`,
          onclick: (ev) => {
            if (!confirm(`Revoke ${t.name}'s token? Their sessions end at once.`)) return;
            guard(async () => { await api(`/api/tokens/${t.id}`, { method: "DELETE" }); say(`Token ${t.id} revoked.`); await load(); }, ev.currentTarget);
          } })))));
    }
    $("#token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = $("#token-name").value.trim();
      if (!name) { say("Say who the token is for.", "error"); return; }
      guard(async () => {
        const res = await api("/api/tokens", { method: "POST", json: { name, role: $("#token-role").value } });
        $("#token-secret").hidden = false;
        $("#token-value").textContent = res.token || res.secret || "";
        $("#token-name").value = "";
        say(`Token for ${name} created.`);
        await load();
      });
    });
    $("#token-copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("#token-value").textContent)
      .then(() => say("Copied."), () => say("Copy it by hand: select the text.", "error")));
    await guard(load);
  }

  const pages = { "/": initGenerate, "/edit": initEdit, "/jobs": initJobs, "/review": initReview, "/exports": initExports,
    "/audit": initAudit, "/tokens": initTokens };
  const init = pages[document.body.dataset.page];
  if (init) init();
})();
