// Draws the archspace report from the JSON block #report-data (written by report.py).
// Text from data reaches the page only as DOM text (textContent) or, in plotly labels,
// escaped with esc(): nothing from a trials table is ever parsed as markup.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const runs = data.compare ? data.runs : [data];
  const main = document.getElementById("report");
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                  "#7f7f7f", "#bcbd22", "#393b79", "#637939"];
  const STATE_STYLE = {
    complete: {color: "#1f77b4", symbol: "circle", label: "complete"},
    pruned: {color: "#ff7f0e", symbol: "circle-open", label: "pruned by ASHA (accuracy when stopped)"},
    failed: {color: "#d62728", symbol: "x", label: "failed (no accuracy: drawn at 0)"},
  };
  const COST = {gflops: "GFLOPs", params_m: "params (M)", latency_ms: "latency (ms)"};
  const CONFIG = {displaylogo: false, responsive: true};

  // ------------------------------------------------------------------ small helpers

  function esc(value) {  // for plotly's labels, which read a few HTML tags and entities
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  }
  function num(v, digits) {
    return v === null || v === undefined ? "-" : Number(v).toFixed(digits);
  }
  function whole(v) {
    return v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US");
  }
  function clock(s) {
    if (s === null || s === undefined) return "-";
    const m = Math.floor(s / 60);
    return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  }
  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function section(title, note) {
    const box = el("section", {className: "part"}, el("h2", {}, title));
    if (note) box.append(el("p", {className: "note"}, note));
    main.append(box);
    return box;
  }
  function figure(parent, id, traces, layout) {
    const div = el("div", {id: id, className: "figure"});
    parent.append(div);
    const base = {margin: {l: 60, r: 20, t: 40, b: 50}, height: 460, hovermode: "closest",
                  hoverlabel: {align: "left"}, legend: {orientation: "h", y: -0.18}};
    Plotly.newPlot(div, traces, Object.assign(base, layout), CONFIG);
    div.on("plotly_click", function (event) {
      const point = event.points && event.points[0];
      if (point && Array.isArray(point.customdata)) select(point.customdata[0], point.customdata[1]);
    });
    return div;
  }
  function searched(run) { return run.rows.filter(r => !r.reference); }
  function references(run) { return run.rows.filter(r => r.reference); }
  function rowName(row) {
    return row.reference ? (row.label || row.preset) + " (reference)" : "trial " + row.trial;
  }
  function knobText(run, row) {
    return run.knobs.filter(k => row.knobs[k] !== null && row.knobs[k] !== undefined)
      .map(k => k + "=" + row.knobs[k]).join(", ");
  }
  function foldGenome(yaml) {  // the YAML's "key: value" lines as a few lines of ~70 characters
    const lines = [];
    let line = "";
    for (const item of (yaml || "").split("\n").filter(Boolean)) {
      if (line && line.length + item.length > 70) { lines.push(line); line = ""; }
      line = line ? line + ", " + item : item;
    }
    return line ? lines.concat([line]) : lines;
  }
  function hover(run, row) {
    const lines = ["<b>" + esc(rowName(row)) + "</b> · " + esc(row.state) +
                   (row.reused_from !== null ? " (result of trial " + row.reused_from + ")" : "")];
    if (data.compare) lines.push("run " + esc(run.name));
    const knobs = knobText(run, row);
    if (knobs) lines.push(esc(knobs));
    lines.push("params " + whole(row.params) + " (" + num(row.params_m, 3) + " M) · " + num(row.gflops, 3) +
               " GFLOPs (" + whole(row.flops) + " FLOPs)" +
               (row.latency_ms !== null ? " · " + num(row.latency_ms, 2) + " ms" : ""));
    lines.push("accuracy " + num(row.accuracy, 3) + " after " + (row.epochs === null ? "-" : row.epochs) + " epochs");
    if (row.by_epoch.length) lines.push("by epoch: " + row.by_epoch.map(v => num(v, 3)).join(" "));
    if (row.error) lines.push("error: " + esc(row.error.slice(0, 120)));
    for (const [i, line] of foldGenome(row.yaml).entries()) lines.push((i ? "  " : "genome: ") + esc(line));
    lines.push("<i>click: genome YAML and train command</i>");
    return lines.join("<br>");
  }

  // ------------------------------------------------------------------ the selected trial

  const panel = el("aside", {id: "selection", hidden: true});
  document.body.append(panel);

  function shellWord(text) {
    return /^[\w@%+=:,./-]+$/.test(text) ? text : "'" + text.replace(/'/g, "'\\''") + "'";
  }
  function trainCommand(run, row) {
    const stem = row.reference ? row.preset : "trial-" + String(row.trial).padStart(4, "0");
    const dataDir = run.meta.proxy_data || "DATA";
    return {file: stem + ".yaml", command: ["archspace", "train", "--genome", stem + ".yaml", "--data", dataDir,
                                            "--out", "runs/" + run.name + "-" + stem].map(shellWord).join(" ")};
  }
  function select(r, i) {
    const run = runs[r];
    const row = run.rows[i];
    const train = trainCommand(run, row);
    const yaml = row.yaml || "(this row has no genome)";
    const download = el("button", {id: "selection-download", type: "button"}, "save " + train.file);
    download.addEventListener("click", function () {
      const link = el("a", {href: URL.createObjectURL(new Blob([yaml], {type: "text/yaml"})), download: train.file});
      link.click();
      URL.revokeObjectURL(link.href);
    });
    const close = el("button", {type: "button", className: "close"}, "×");
    close.addEventListener("click", () => { panel.hidden = true; });
    panel.replaceChildren(
      close,
      el("h3", {id: "selection-title"}, rowName(row) + (data.compare ? " · " + run.name : "") + " · " + row.state),
      el("p", {}, knobText(run, row)),
      el("h4", {}, "genome (" + train.file + ")"),
      el("pre", {id: "selection-yaml"}, yaml),
      download,
      el("h4", {}, "full training"),
      el("pre", {id: "selection-command"}, train.command),
      el("p", {className: "note"}, "Save the genome as " + train.file + " (the button above" +
         (row.reference ? "" : ", or `archspace export " + run.folder + " --front` for a front trial") +
         "); the command trains it with the default recipe on " +
         (run.meta.proxy_data ? "the search's data: give your data set's folder for full training." : "DATA, your data set's folder.")));
    panel.hidden = false;
  }

  // ------------------------------------------------------------------ header

  function header() {
    const title = data.compare ? "archspace compare: " + runs.map(r => r.name).join(" vs ") : "archspace report: " + data.name;
    main.append(el("h1", {}, title));
    const table = el("table", {className: "meta"});
    const head = el("tr", {}, el("th", {}, ""));
    for (const run of runs) head.append(el("th", {}, run.name));
    if (data.compare) table.append(head);
    const rows = [
      ["folder", run => run.folder],
      ["space", run => run.meta.space],
      ["objectives", run => run.meta.objectives],
      ["status", run => run.meta.status || "-"],
      ["trials", run => { const c = run.meta.counts;
        return (c.complete + c.pruned + c.failed) + " (" + c.complete + " complete, " + c.pruned + " pruned, " +
               c.failed + " failed" + (c.reused ? ", " + c.reused + " reused a result" : "") + "); " +
               c.references + " reference preset(s)"; }],
      ["proxy budget", run => Object.entries(run.meta.proxy_budget).filter(([, v]) => v !== null)
        .map(([k, v]) => k + " " + v).join(", ") + (run.meta.proxy_inputs.frames.length ?
        "; inputs " + run.meta.proxy_inputs.frames.join("/") + " frames x " + run.meta.proxy_inputs.crop.join("/") + " px" : "")],
      ["proxy data", run => run.meta.proxy_data || "-"],
      ["search", run => Object.entries(run.meta.search).map(([k, v]) => k + " " + v).join(", ") || "-"],
      ["wall time", run => clock(run.meta.wall_s)],
      ["machine", run => run.meta.machine || "-"],
      ["hypervolume", run => num(run.hypervolume.final, 4) + " (accuracy x " + COST[run.x] + ", reference point " +
        Object.entries(run.hypervolume.reference).map(([k, v]) => k + " " + num(v, 3)).join(", ") + ")"],
      ["generated", run => run.meta.generated],
    ];
    for (const [name, text] of rows) {
      const tr = el("tr", {}, el("th", {}, name));
      for (const run of runs) tr.append(el("td", {}, text(run)));
      table.append(tr);
    }
    main.append(table);
  }

  // ------------------------------------------------------------------ accuracy against cost

  function frontTrace(run, r, cost, color, name) {
    const rows = run.fronts[cost].map(i => run.rows[i]);
    return {type: "scatter", mode: "lines+markers", name: name + " (" + rows.length + ")", meta: {kind: "front", run: r},
            x: rows.map(p => p[cost]), y: rows.map(p => p.accuracy), line: {shape: "hv", color: color, width: 2},
            marker: {symbol: "circle-open", size: 13, color: color, line: {width: 2}},
            customdata: rows.map(p => [r, p.i]), text: rows.map(p => hover(run, p)), hovertemplate: "%{text}<extra></extra>"};
  }
  function referenceTrace(run, r, cost, name) {
    const rows = references(run);
    return {type: "scatter", mode: "markers+text", name: name + " (" + rows.length + ")", meta: {kind: "reference", run: r},
            x: rows.map(p => p[cost]), y: rows.map(p => p.accuracy), text: rows.map(p => esc(p.label || p.preset)),
            textposition: "top center", marker: {symbol: "star", size: 14, color: "#444"},
            customdata: rows.map(p => [r, p.i]), hovertext: rows.map(p => hover(run, p)), hoverinfo: "text"};
  }
  function costFigure(parent, cost) {
    const traces = [];
    if (!data.compare) {
      const run = runs[0];
      for (const state of ["complete", "pruned", "failed"]) {
        const rows = searched(run).filter(p => p.state === state);
        const style = STATE_STYLE[state];
        traces.push({type: "scatter", mode: "markers", name: style.label + " (" + rows.length + ")",
                     meta: {kind: "state", state: state, run: 0}, x: rows.map(p => p[cost]),
                     y: rows.map(p => state === "failed" && p.accuracy === null ? 0 : p.accuracy),
                     marker: {symbol: style.symbol, size: 9, color: style.color, line: {width: 1.5, color: style.color}},
                     customdata: rows.map(p => [0, p.i]), text: rows.map(p => hover(run, p)),
                     hovertemplate: "%{text}<extra></extra>"});
      }
      traces.push(frontTrace(run, 0, cost, "#111", "Pareto front, accuracy vs " + COST[cost]));
      traces.push(referenceTrace(run, 0, cost, "reference presets"));
    } else {
      runs.forEach(function (run, r) {
        if (!run.fronts[cost]) return;
        const color = COLORS[r % COLORS.length];
        const rows = searched(run).filter(p => p.state === "complete");
        traces.push({type: "scatter", mode: "markers", name: esc(run.name) + ": complete (" + rows.length + ")",
                     meta: {kind: "state", state: "complete", run: r}, x: rows.map(p => p[cost]), y: rows.map(p => p.accuracy),
                     marker: {size: 8, color: rgba(color, 0.55)}, customdata: rows.map(p => [r, p.i]),
                     text: rows.map(p => hover(run, p)), hovertemplate: "%{text}<extra></extra>"});
        traces.push(frontTrace(run, r, cost, color, esc(run.name) + ": front"));
        traces.push(referenceTrace(run, r, cost, esc(run.name) + ": references"));
      });
    }
    return figure(parent, "fig-" + cost, traces, {
      title: {text: "proxy accuracy vs " + COST[cost]},
      xaxis: {type: "log", title: {text: COST[cost] + " (log scale)"}},
      yaxis: {title: {text: "proxy accuracy (top-1)"}},
    });
  }

  function frontTable(parent, run) {
    const table = el("table", {className: "front"});
    const cost = Object.keys(run.objectives).filter(k => k !== "accuracy");
    table.append(el("tr", {}, el("th", {}, "trial"), ...cost.map(c => el("th", {}, c)), el("th", {}, "params (M)"),
                    el("th", {}, "accuracy"), el("th", {}, "knobs")));
    for (const i of run.run_front) {
      const row = run.rows[i];
      const tr = el("tr", {className: "pick"}, el("td", {}, String(row.trial)),
                    ...cost.map(c => el("td", {}, num(row[c], 3))), el("td", {}, num(row.params_m, 3)),
                    el("td", {}, num(row.accuracy, 3)), el("td", {}, knobText(run, row)));
      tr.addEventListener("click", () => select(runs.indexOf(run), i));
      table.append(tr);
    }
    parent.append(table);
  }

  // ------------------------------------------------------------------ EDFs

  function edfFigure(parent, id, edf) {
    const traces = [];
    const axes = [["plain", "x", "y"], ["normalised", "x2", "y2"]];
    for (const [part, xaxis, yaxis] of axes) {
      edf[part].forEach(function (group, g) {
        const color = COLORS[g % COLORS.length];
        const label = esc(edf.knob + "=" + group.value) + " (n=" + group.n + ")";
        const common = {type: "scatter", xaxis: xaxis, yaxis: yaxis, legendgroup: label, showlegend: false,
                        line: {shape: "hv", width: 0}, hoverinfo: "skip", x: group.x};
        traces.push(Object.assign({}, common, {y: group.low, mode: "lines", meta: {kind: "band", part: part}}));
        traces.push(Object.assign({}, common, {y: group.high, mode: "lines", fill: "tonexty", fillcolor: rgba(color, 0.15),
                                               meta: {kind: "band", part: part}}));
        traces.push({type: "scatter", mode: "lines", xaxis: xaxis, yaxis: yaxis, name: label, legendgroup: label,
                     showlegend: part === "plain", line: {shape: "hv", color: color, width: 2.5}, x: group.x, y: group.y,
                     meta: {kind: "edf", part: part, value: group.value, n: group.n},
                     text: group.x.map(() => label), hovertemplate: "%{text}<br>error %{x:.3f}: %{y:.2f}<extra></extra>"});
      });
    }
    return figure(parent, id, traces, {
      height: 380,
      xaxis: {domain: [0, 0.46], title: {text: "error (1 - proxy accuracy)"}},
      yaxis: {title: {text: "cumulative share of models"}, range: [0, 1.02]},
      xaxis2: {domain: [0.54, 1], anchor: "y2", title: {text: "error, normalised by " + COST[edf.cost]}},
      yaxis2: {anchor: "x2", range: [0, 1.02]},
      annotations: [
        {text: "plain EDF", x: 0.23, y: 1.08, xref: "paper", yref: "paper", showarrow: false},
        {text: "normalised: " + edf.bins + " bins of " + COST[edf.cost] + ", each bin weighs the same", x: 0.77, y: 1.08,
         xref: "paper", yref: "paper", showarrow: false},
      ],
    });
  }

  // ------------------------------------------------------------------ knobs, curves, hypervolume

  function parallelFigure(parent, run) {
    const rows = searched(run).filter(p => p.state === "complete");
    const dims = [];
    for (const knob of run.knobs) {
      const values = rows.map(p => p.knobs[knob]);
      if (values.every(v => typeof v === "number")) {
        dims.push({label: esc(knob), values: values});
      } else {
        const names = [...new Set(values.map(v => v === null ? "-" : String(v)))].sort();
        dims.push({label: esc(knob), values: values.map(v => names.indexOf(v === null ? "-" : String(v))),
                   tickvals: names.map((_, k) => k), ticktext: names.map(esc)});
      }
    }
    for (const cost of run.costs) dims.push({label: COST[cost], values: rows.map(p => p[cost])});
    dims.push({label: "accuracy", values: rows.map(p => p.accuracy)});
    return figure(parent, "fig-knobs", [{type: "parcoords", dimensions: dims, meta: {kind: "knobs", rows: rows.length},
      line: {color: rows.map(p => p.accuracy), colorscale: "Viridis", showscale: true, colorbar: {title: {text: "accuracy"}}}}],
      {height: 420, margin: {l: 70, r: 70, t: 60, b: 30}});
  }

  function curvesFigure(parent, run) {
    const traces = [];
    const shown = {};
    for (const row of run.rows) {
      if (!row.by_epoch.length) continue;
      const group = row.reference ? "reference" : row.state;
      const color = row.reference ? "#444" : STATE_STYLE[row.state].color;
      const name = esc(rowName(row));
      traces.push({type: "scatter", mode: "lines+markers", name: row.reference ? name : group, legendgroup: group,
                   showlegend: row.reference || !shown[group], x: row.by_epoch.map((_, e) => e + 1), y: row.by_epoch,
                   line: {color: color, width: 1.5, dash: row.reference ? "dot" : row.state === "pruned" ? "dash" : "solid"},
                   marker: {size: 4}, meta: {kind: "curve", state: row.state, reference: row.reference},
                   customdata: row.by_epoch.map(() => [runs.indexOf(run), row.i]), text: row.by_epoch.map(() => name),
                   hovertemplate: "%{text}<br>epoch %{x}: accuracy %{y:.3f}<extra></extra>"});
      shown[group] = true;
    }
    return figure(parent, "fig-curves", traces, {xaxis: {title: {text: "epoch"}, dtick: 1},
                                                 yaxis: {title: {text: "proxy accuracy (top-1)"}}});
  }

  function hypervolumeFigure(parent) {
    const traces = runs.map((run, r) => ({
      type: "scatter", mode: "lines+markers", name: esc(run.name) + " (final " + num(run.hypervolume.final, 4) + ")",
      x: run.hypervolume.trial, y: run.hypervolume.value, line: {shape: "hv", color: COLORS[r % COLORS.length]},
      meta: {kind: "hypervolume", run: r}, hovertemplate: "after trial %{x}: %{y:.4f}<extra></extra>"}));
    const hv = runs[0].hypervolume;
    return figure(parent, "fig-hypervolume", traces, {
      height: 380, xaxis: {title: {text: "trial number"}},
      yaxis: {title: {text: "hypervolume (accuracy x " + COST[runs[0].x] + ")"}},
      title: {text: "reference point: " + Object.entries(hv.reference).map(([k, v]) => k + " " + num(v, 3)).join(", ")}});
  }

  // ------------------------------------------------------------------ the page

  header();
  if (!data.compare && data.results_md) {
    section("results.md", "The experiment's tables beside the paper's, with the orderings computed from them.")
      .append(el("pre", {className: "results-md", id: "results-md"}, data.results_md));
  }
  let box = section("Accuracy against cost",
    data.compare ? "Complete trials, the front of each run as a step line, and the reference presets, per run." :
    "Every trial: the front (trials trained to the full proxy budget only) as a step line, trials stopped by ASHA " +
    "and failed ones apart, the reference presets labelled. Hover for the knobs and costs; click for the genome.");
  for (const cost of runs[0].costs) {
    if (runs.every(run => run.fronts[cost])) costFigure(box, cost);
  }
  if (!data.compare) {
    box = section("Pareto front of the run's objectives (" + data.meta.objectives + ")",
                  "What `archspace export " + data.folder + " --front` writes. Click a row for its genome.");
    frontTable(box, data);
    box = section("Error EDFs by knob",
                  "F(e): share of trained trials with error at most e, per value of each knob with a few values; " +
                  "the band is a 95% bootstrap interval. Normalised: each of " + (data.edfs[0] ? data.edfs[0].bins : 40) +
                  " cost bins weighs the same, so values with different cost distributions compare fairly.");
    if (!data.edfs.length) box.append(el("p", {}, "No knob has between 2 and 12 values among the trained trials."));
    data.edfs.forEach((edf, k) => edfFigure(box, "fig-edf-" + k, edf));
    box = section("Knobs of the complete trials", "One line per trial, coloured by proxy accuracy; drag along an axis to filter.");
    parallelFigure(box, data);
    box = section("Learning curves", "Proxy validation accuracy after each epoch; pruned trials dashed, references dotted.");
    curvesFigure(box, data);
  } else {
    box = section("Error EDFs of the runs", "Trained trials of each run; 95% bootstrap bands.");
    edfFigure(box, "fig-edf-runs", data.edf_runs);
  }
  box = section("Hypervolume over the search", "Hypervolume of the front of trained trials after each trial number" +
                (data.compare ? ", every run on the same reference point." : "."));
  hypervolumeFigure(box);
  document.body.dataset.ready = "true";
})();
