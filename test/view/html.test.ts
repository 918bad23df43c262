import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { renderHtml, renderStandaloneHtml } from "../../src/view/html.js";
import { buildView } from "../../src/view/model.js";
import { parseScale } from "../../src/view/scale.js";
import { renderSvg } from "../../src/view/svg.js";
import { VIEWER_SCRIPT } from "../../src/view/viewer-script.js";
import { bundleViewerScript, REPO_DIR } from "../../viewer/build.js";

const view = buildView({
  host: qemuQ35VtdHost(),
  mappings: [{ iova: 0x1000n, length: 0x1000n, label: "</script><b>x</b>" }],
});

describe("renderSvg", () => {
  const svg = renderSvg(view, { scale: parseScale(view.scale), width: 1000 });

  it("draws one group per lane and per item, with text labels", () => {
    expect(svg.match(/<g class="lane /g)).toHaveLength(view.lanes.length);
    const items = view.lanes.reduce((n, l) => n + l.items.length, 0);
    expect(svg.match(/<g class="item /g)).toHaveLength(items);
    expect(svg).toContain(">usable (type1)</text>");
    expect(svg).toContain(">0xfee00000</text>");
    expect(svg).toContain(">2^64</text>");
  });

  it("escapes model text", () => {
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&#60;/script&#62;&#60;b&#62;x&#60;/b&#62;");
  });
});

describe("renderStandaloneHtml", () => {
  const html = renderStandaloneHtml(view);

  it("inlines the script and the model, with nothing able to close a script early", () => {
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const data = /<script type="application\/json" id="ioas-model">(.*?)<\/script>/s.exec(html)?.[1];
    expect(JSON.parse(data!)).toEqual(view);
    expect(html).toContain(VIEWER_SCRIPT.slice(0, 200));
  });

  it("references the script by src for the built page", () => {
    const page = renderHtml({ model: null, script: { src: "viewer.js" } });
    expect(page).toContain('<script src="viewer.js"></script>');
    expect(page).toContain('id="ioas-model">null</script>');
  });
});

describe("viewer build", () => {
  it("src/view/viewer-script.ts is up to date with viewer/src (run `npx tsx viewer/build.ts`)", async () => {
    expect(await bundleViewerScript()).toBe(VIEWER_SCRIPT);
  });

  it("viewer/ type-checks with DOM types (viewer/tsconfig.json)", async () => {
    const tsc = `${REPO_DIR}/node_modules/typescript/bin/tsc`;
    await expect(
      promisify(execFile)(process.execPath, [tsc, "--noEmit", "-p", `${REPO_DIR}/viewer/tsconfig.json`]),
    ).resolves.toBeDefined();
  });
});
