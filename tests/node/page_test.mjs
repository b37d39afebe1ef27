// page_test.mjs — the page at / in a real browser (Debian's chromium, headless, driven by
// puppeteer-core): enrol two people through the page's form, upload a photo of both,
// check the names shown, rename and delete through the panel, and save screenshots.
//   node page_test.mjs http://127.0.0.1:PORT API_KEY FACES_DIR OUT_DIR
import puppeteer from "puppeteer-core";
import fs from "fs";
import os from "os";
import path from "path";

const [url, key, facesDir, outDir] = process.argv.slice(2);
const photo = (p) => path.join(facesDir, p);
let checks = 0, failed = 0;
function check(what, cond, detail) {
  checks++;
  if (cond) console.log("ok   " + what);
  else { failed++; console.log("FAIL " + what + (detail !== undefined ? ": " + JSON.stringify(detail) : "")); }
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "facenet-chromium-"));
const browser = await puppeteer.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("pageerror", (e) => check("no script error on the page", false, String(e)));
  page.on("dialog", async (d) => {
    if (d.type() === "prompt") await d.accept("Joseph Biden");
    else await d.accept();
  });
  await page.goto(url + "/", { waitUntil: "load" });
  check("the page loads", (await page.title()) === "facenet serve");
  await page.type("#key", key);
  await page.$eval("#key", (e) => e.dispatchEvent(new Event("change")));
  await page.waitForFunction(() => /people/.test(document.getElementById("status").textContent), { timeout: 20000 });

  async function enrol(name, files) {
    await page.$eval("#new-name", (e) => { e.value = ""; });
    await page.type("#new-name", name);
    const input = await page.$("#new-photos");
    await input.uploadFile(...files.map(photo));
    await page.click("#add");
    await page.waitForFunction((n) => [...document.querySelectorAll("#subjects li")].some((li) => li.dataset.subject === n),
                                { timeout: 60000 }, name);
  }
  await enrol("Barack Obama", ["obama.jpg", "obama2.jpg"]);
  await enrol("Joe Biden", ["biden.jpg", "knn_examples/train/biden/biden2.jpg"]);
  const panel = await page.$$eval("#subjects li", (lis) => lis.map((li) => li.textContent));
  check("the panel lists both with 2 photos each", panel.length === 2 && panel.every((t) => /\(2 photos\)/.test(t)), panel);
  await page.screenshot({ path: path.join(outDir, "serve_page_enrolled.png") });

  const input = await page.$("#photo");
  await input.uploadFile(photo("knn_examples/test/obama_and_biden.jpg"));
  await page.waitForFunction(() => document.querySelectorAll("#results li").length > 0, { timeout: 60000 });
  const shown = await page.$$eval("#results li.known", (lis) => lis.map((li) => li.dataset.subject));
  check("the photo of both shows both names", shown.includes("Barack Obama") && shown.includes("Joe Biden"), shown);
  const drawn = await page.$eval("#canvas", (c) => c.width > 0 && c.height > 0);
  check("the photo is drawn with its boxes", drawn);
  await page.screenshot({ path: path.join(outDir, "serve_page_recognized.png"), fullPage: true });

  // rename (the prompt answers "Joseph Biden") and delete through the panel
  const buttons = async (name) => page.$$(`#subjects li[data-subject="${name}"] button`);
  await (await buttons("Joe Biden"))[0].click();
  await page.waitForFunction(() => [...document.querySelectorAll("#subjects li")].some((li) => li.dataset.subject === "Joseph Biden"), { timeout: 20000 });
  check("rename through the panel", true);
  await (await buttons("Barack Obama"))[1].click();
  await page.waitForFunction(() => document.querySelectorAll("#subjects li").length === 1, { timeout: 20000 });
  const left = await page.$$eval("#subjects li", (lis) => lis.map((li) => li.dataset.subject));
  check("delete through the panel leaves Joseph Biden", left.length === 1 && left[0] === "Joseph Biden", left);
} catch (e) {
  check("no exception", false, String(e.stack || e));
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`page_test: ${checks} checks, ${failed} failed`);
process.exit(failed ? 1 : 0);
