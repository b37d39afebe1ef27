// sdk_test.mjs — CompreFace's own JavaScript SDK (npm @exadel/compreface-js-sdk 1.0.0,
// unmodified) against a running `facenet serve`: add subjects and examples (multipart
// from a path, base64), list, recognize, verify against a stored example, detect, verify
// two photos, rename, delete — the answers checked on real photos.
//   node sdk_test.mjs http://127.0.0.1:PORT API_KEY FACES_DIR
import { CompreFace } from "@exadel/compreface-js-sdk";
import fs from "fs";
import path from "path";

const [url, key, facesDir] = process.argv.slice(2);
const u = new URL(url);
const cf = new CompreFace(`http://${u.hostname}`, u.port, {});
const recognition = cf.initFaceRecognitionService(key);
const detection = cf.initFaceDetectionService(key);
const verification = cf.initFaceVerificationService(key);
// the SDK's services keep mutating their URL between calls: take a fresh one each time
const faces = () => recognition.getFaceCollection();
const subjects = () => recognition.getSubjects();
// the SDK recognises a file path only when it is relative ("./...")
const rel = (p) => "./" + path.relative(process.cwd(), p);
const photo = (p) => rel(path.join(facesDir, p));
const b64 = (p) => fs.readFileSync(path.join(facesDir, p)).toString("base64");

let checks = 0, failed = 0;
function check(what, cond, detail) {
  checks++;
  if (cond) console.log("ok   " + what);
  else { failed++; console.log("FAIL " + what + (detail !== undefined ? ": " + JSON.stringify(detail) : "")); }
}

async function main() {
  await subjects().deleteAll();
  check("subjects.add", (await subjects().add("obama")).subject === "obama");
  const a = await faces().add(photo("obama.jpg"), "obama");
  check("faces.add from a path (multipart)", a.subject === "obama" && typeof a.image_id === "string", a);
  const b = await faces().add(b64("obama2.jpg"), "obama");
  check("faces.add base64", b.subject === "obama" && b.image_id !== a.image_id, b);
  // the SDK does not percent-encode subject names: a pre-encoded one arrives decoded
  const c = await faces().add(photo("biden.jpg"), "Joe%20Biden");
  check("faces.add with an encoded name gives 'Joe Biden'", c.subject === "Joe Biden", c);
  await faces().add(photo("knn_examples/train/biden/biden2.jpg"), "Joe%20Biden");

  const list = await faces().list();
  check("faces.list: total_elements 4", list.total_elements === 4 && list.faces.length === 4, list);
  const names = (await subjects().list()).subjects.sort();
  check("subjects.list: Joe Biden, obama", JSON.stringify(names) === '["Joe Biden","obama"]', names);

  // recognize a photo of both: each is named, with similarity above 0.5
  const r = await recognition.recognize(photo("knn_examples/test/obama_and_biden.jpg"), { limit: 0, prediction_count: 1 });
  const named = r.result.filter((f) => f.subjects.length && f.subjects[0].similarity >= 0.5).map((f) => f.subjects[0].subject);
  check("recognize obama_and_biden.jpg names both", named.includes("obama") && named.includes("Joe Biden"),
        r.result.map((f) => [f.box, f.subjects]));
  const r2 = await recognition.recognize(b64("obama_small.jpg"), { face_plugins: "landmarks", det_prob_threshold: 0.8 });
  check("recognize base64 obama_small.jpg: obama, box and landmarks",
        r2.result.length === 1 && r2.result[0].subjects[0].subject === "obama" && r2.result[0].landmarks.length === 5 &&
        r2.result[0].box.x_max > r2.result[0].box.x_min, r2);

  // verify a photo against a stored example
  const v1 = await faces().verify(photo("obama-480p.jpg"), a.image_id, { limit: 1 });
  check("faces.verify obama-480p vs the obama example: > 0.5", v1.result[0].similarity > 0.5, v1);
  const v2 = await faces().verify(photo("biden.jpg"), a.image_id, {});
  check("faces.verify biden vs the obama example: < 0.5", v2.result[0].similarity < 0.5, v2);

  // detection and two-photo verification services
  const d = await detection.detect(photo("two_people.jpg"), { face_plugins: "landmarks" });
  check("detect two_people.jpg: two faces with boxes and landmarks",
        d.result.length === 2 && d.result.every((f) => f.box.probability > 0.9 && f.landmarks.length === 5), d);
  const s = await verification.verify(photo("obama.jpg"), photo("obama2.jpg"), {});
  check("verification.verify obama vs obama2: > 0.5", s.result[0].face_matches[0].similarity > 0.5, s);
  const t = await verification.verify(photo("obama.jpg"), photo("biden.jpg"), {});
  check("verification.verify obama vs biden: < 0.5", t.result[0].face_matches[0].similarity < 0.5, t);

  // rename, delete one example, delete a subject's examples, delete all
  check("subjects.rename", (await subjects().rename("obama", "Barack")).updated === true);
  const del = await faces().delete(b.image_id);
  check("faces.delete one example", del.image_id === b.image_id && del.subject === "Barack", del);
  check("after the delete: 3 examples", (await faces().list()).total_elements === 3);
  const dels = await faces().delete_all_subject("Barack");
  check("faces.delete_all_subject", dels.deleted === 1, dels);
  check("subjects.delete", (await subjects().delete("Joe%20Biden")).subject === "Joe Biden");
  await subjects().deleteAll();
  check("everything deleted", (await faces().list()).total_elements === 0 && (await subjects().list()).subjects.length === 0);

  // a wrong key is rejected with a 4xx
  const bad = new CompreFace(`http://${u.hostname}`, u.port, {}).initFaceRecognitionService("00000000-0000-0000-0000-000000000000");
  let status = 0;
  try { await bad.getSubjects().list(); } catch (e) { status = e.response ? e.response.status : -1; }
  check("an unknown key is rejected (" + status + ")", status >= 400 && status < 500);
}

main().catch((e) => {
  failed++;
  console.log("FAIL exception: " + (e.response ? e.response.status + " " + JSON.stringify(e.response.data) : e.stack || e));
}).finally(() => {
  console.log(`sdk_test: ${checks} checks, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
