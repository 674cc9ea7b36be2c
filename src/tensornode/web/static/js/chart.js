// A small SVG line chart built with DOM calls (text via textContent), the browser-side
// twin of web/charts.py for series the page already holds (scores, earnings).

const NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285"];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function tick(value) {
  return Math.abs(value) >= 10 || Number.isInteger(value) ? value.toFixed(0) : value.toPrecision(2);
}

/**
 * ``lineChart([{name, points: [[x, y], ...]}], {title, yUnit, yMax, xLabels, width, height})``:
 * an <svg> with a line per series, y from 0, the title, axis end labels and a legend.
 */
export function lineChart(series, options = {}) {
  const { title = "", yUnit = "", xLabels = ["", ""], width = 560, height = 200 } = options;
  const legendRows = series.length > 1 ? series.length : 0;
  const box = { left: 44, top: 24, width: width - 56, height: height - 48 - 14 * legendRows };
  const points = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 0;
  const yMax = options.yMax ?? (ys.length ? Math.max(...ys) : 0);
  const sx = (x) => box.left + (xMax === xMin ? 0.5 : (x - xMin) / (xMax - xMin)) * box.width;
  const sy = (y) => box.top + (1 - (yMax === 0 ? 0.5 : y / yMax)) * box.height;
  const root = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": title,
  });
  root.append(svg("title", {}, title));
  root.append(svg("text", { x: box.left, y: 14, "font-size": 12, "font-weight": "bold" }, title));
  const bottom = box.top + box.height;
  root.append(
    svg("line", { x1: box.left, y1: bottom, x2: box.left + box.width, y2: bottom, stroke: "#8a94a6" }),
    svg("line", { x1: box.left, y1: box.top, x2: box.left, y2: bottom, stroke: "#8a94a6" }),
    svg("text", { x: box.left - 4, y: box.top + 4, "text-anchor": "end", "font-size": 10 }, `${tick(yMax)}${yUnit}`),
    svg("text", { x: box.left - 4, y: bottom, "text-anchor": "end", "font-size": 10 }, "0"),
    svg("text", { x: box.left, y: bottom + 14, "font-size": 10 }, xLabels[0]),
    svg("text", { x: box.left + box.width, y: bottom + 14, "text-anchor": "end", "font-size": 10 }, xLabels[1]),
  );
  series.forEach((line, index) => {
    const colour = PALETTE[index % PALETTE.length];
    const drawn = line.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (drawn.length) {
      const attr = drawn.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      root.append(svg("polyline", { fill: "none", stroke: colour, "stroke-width": 2, points: attr, "data-series": line.name }));
      if (drawn.length === 1) root.append(svg("circle", { cx: sx(drawn[0][0]), cy: sy(drawn[0][1]), r: 3, fill: colour }));
    }
    if (legendRows) {
      const y = height - 14 * legendRows + 4 + index * 14;
      root.append(
        svg("rect", { x: box.left, y: y - 8, width: 10, height: 3, fill: colour }),
        svg("text", { x: box.left + 14, y, "font-size": 10 }, line.name),
      );
    }
  });
  if (!points.length) {
    root.append(svg("text", { x: box.left + box.width / 2, y: box.top + box.height / 2, "text-anchor": "middle", "font-size": 12 }, "no data yet"));
  }
  return root;
}
