// The viewer page in Debian's Chromium (playwright-core, never a downloaded browser). Skips with a
// printed reason when /usr/bin/chromium is absent; builds the page itself into a temp directory.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildViewer } from "../../viewer/build.js";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { buildTimeline, buildView } from "../../src/view/model.js";
import { renderStandaloneHtml } from "../../src/view/html.js";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.log(`skipping viewer browser tests: ${CHROMIUM} not found (apt-get install -y chromium)`);
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
};

function timeline() {
  const host = qemuQ35VtdHost();
  const ram = { iova: 0n, length: 0x80000000n, label: "guest RAM low" };
  const high = { iova: 0x100000000n, length: 0x40000000n, label: "guest RAM high" };
  return buildTimeline([
    { host, label: "attach groups 1-3", mappings: [] },
    { host, label: "map low RAM", mappings: [ram] },
    { host, label: "map high RAM", mappings: [ram, high] },
  ]);
}

function serve(root: string, extra: Record<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const body = extra[path];
    if (body !== undefined) {
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    const file = normalize(join(root, path === "/" ? "index.html" : path));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    readFile(file).then(
      (data) =>
        res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" }).end(data),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

describe.skipIf(!HAVE_CHROMIUM)("viewer page in Chromium", () => {
  let dir = "";
  let server: Server;
  let browser: Browser;
  let base = "";
  const errors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ioas-viewer-"));
    await buildViewer({ outDir: dir });
    server = await serve(dir, { "/timeline.json": JSON.stringify(timeline()) });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (dir) await rm(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}${path}`);
    await page.waitForSelector("body[data-ready=true]");
    return page;
  }

  it("draws the preset's lanes, labels and legend", async () => {
    const page = await open("/");
    const model = buildView({ host: qemuQ35VtdHost() });
    expect(await page.locator("svg g.lane").count()).toBe(model.lanes.length);
    const labels = await page.locator("svg .lane-label").allTextContents();
    expect(labels).toEqual(["dmar0", "group 1", "group 2", "group 3", "usable (type1)"]);
    const ticks = await page.locator("svg .tick").allTextContents();
    expect(ticks).toContain("0xfee00000");
    expect(ticks).toContain("2^64");
    await expect(page.locator("#legend li").allTextContents()).resolves.toContain("MSI window");
    await page.screenshot({ path: "/tmp/ioas-viewer.png", fullPage: true });
    await page.close();
  });

  it("shows a tooltip on hover and on keyboard focus; Enter zooms, Escape zooms out", async () => {
    const page = await open("/");
    await page.locator("g.item.t-msi").first().hover();
    const tip = page.locator("#tooltip");
    await expect(tip.isVisible()).resolves.toBe(true);
    const text = await tip.textContent();
    expect(text).toContain("[0xfee00000, 0xfeefffff]");
    expect(text).toContain("1 MiB");
    expect(text).toContain("MSI window");
    await page.screenshot({ path: "/tmp/ioas-viewer-tooltip.png" });

    await page.locator("g.item.t-gap").last().focus();
    await expect(tip.textContent()).resolves.toContain("outside dmar0 aperture");
    await page.keyboard.press("Enter");
    await expect(page.inputValue("#zoom-start")).resolves.toBe("0x8000000000");
    await page.keyboard.press("Escape");
    await expect(page.inputValue("#zoom-start")).resolves.toBe("0x0");

    await page.fill("#zoom-start", "0xfe000000");
    await page.fill("#zoom-last", "0xffffffff");
    await page.click("#zoom button[type=submit]");
    const ticks = await page.locator("svg .tick").allTextContents();
    expect(ticks[0]).toBe("0xfe000000");
    await page.screenshot({ path: "/tmp/ioas-viewer-zoom.png", fullPage: true });
    await page.close();
  });

  it("steps a timeline with the keyboard-usable slider", async () => {
    const page = await open("/?model=/timeline.json");
    await expect(page.locator("#steps").isVisible()).resolves.toBe(true);
    const mappings = page.locator("g.lane-mappings g.item");
    expect(await mappings.count()).toBe(0);
    await page.focus("#step");
    await page.keyboard.press("ArrowRight");
    await page.waitForSelector("body[data-step='1']");
    expect(await mappings.count()).toBe(1);
    await page.keyboard.press("ArrowRight");
    await page.waitForSelector("body[data-step='2']");
    expect(await mappings.count()).toBe(2);
    await expect(page.locator("#step-label").textContent()).resolves.toBe("3 / 3: map high RAM");
    await page.screenshot({ path: "/tmp/ioas-viewer-timeline.png", fullPage: true });
    await page.close();
  });

  it("renders the standalone HTML (inlined script and model)", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.setContent(renderStandaloneHtml(buildView({ host: qemuQ35VtdHost({ addressWidth: 48 }) })));
    await page.waitForSelector("body[data-ready=true]");
    const item = page.locator("g.item.t-aperture").first();
    await expect(item.getAttribute("aria-label")).resolves.toContain("0xffffffffffff");
    await page.close();
  });
});
