package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sdkDir installs (once, cached outside the repository) CompreFace's
// official JavaScript SDK from the npm registry and returns its directory.
func sdkDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: skipping the CompreFace JavaScript SDK test")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not installed: skipping the CompreFace JavaScript SDK test")
	}
	dirs := []string{"/var/cache/vizor/npm-sdk"}
	if d, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(d, "vizor", "npm-sdk"))
	}
	var lastErr string
	for _, dir := range dirs {
		pkg := filepath.Join(dir, "node_modules", "@exadel", "compreface-js-sdk")
		if _, err := os.Stat(filepath.Join(pkg, "index.js")); err == nil {
			return pkg
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			lastErr = err.Error()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		out, err := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "@exadel/compreface-js-sdk").CombinedOutput()
		cancel()
		if err == nil {
			return pkg
		}
		lastErr = err.Error() + ": " + string(out)
	}
	t.Skipf("npm install @exadel/compreface-js-sdk failed (registry unreachable?): skipping the SDK test: %.500s", lastErr)
	return ""
}

const sdkScript = `
import fs from 'fs';
import { CompreFace } from 'SDK_INDEX';
const options = { limit: 0, det_prob_threshold: 0.8, prediction_count: 1, face_plugins: "calculator,age,gender,landmarks", status: "true" };
const cf = new CompreFace(process.env.CF_SERVER, process.env.CF_PORT, options);
const rec = cf.initFaceRecognitionService(process.env.REC_KEY);
const det = cf.initFaceDetectionService(process.env.DET_KEY);
const ver = cf.initFaceVerificationService(process.env.VER_KEY);
const out = {};
const step = async (name, f) => {
  try { out[name] = await f(); }
  catch (e) { out[name] = { sdk_error: e.response ? { status: e.response.status, data: e.response.data } : String(e) }; }
};
await step("subject_add", () => rec.getSubjects().add("sdk_jimin"));
await step("add1", () => rec.getFaceCollection().add("./jimin6.jpg", "sdk_jimin"));
await step("add2", () => rec.getFaceCollection().add("./tzuyu.jpg", "sdk_tzuyu"));
await step("add_b64", () => rec.getFaceCollection().add(fs.readFileSync("./eunseo2.jpg").toString("base64"), "sdk_eunseo"));
await step("list", () => rec.getFaceCollection().list());
await step("subjects", () => rec.getSubjects().list());
await step("recognize", () => rec.recognize("./jimin7.jpg", options));
await step("recognize_b64", () => rec.recognize(fs.readFileSync("./tzuyu2.jpg").toString("base64"), options));
await step("verify", () => rec.getFaceCollection().verify("./jimin7.jpg", out.add1.image_id));
await step("detect", () => det.detect("./joy.jpg"));
await step("verification", () => ver.verify("./tzuyu.jpg", "./tzuyu2.jpg"));
await step("delete", () => rec.getFaceCollection().delete(out.add2.image_id));
await step("rename", () => rec.getSubjects().rename("sdk_eunseo", "sdk_eunseo2"));
await step("delete_subject", () => rec.getSubjects().delete("sdk_eunseo2"));
console.log("RESULT:" + JSON.stringify(out));
`

// TestCompreFaceJavaScriptSDK drives Vizor with @exadel/compreface-js-sdk,
// (recognize gets its options object as in the SDK README: the published
// 1.0.0 reads options.limit without a guard),
// unchanged, with its default request shapes (relative file paths sent as
// multipart, Base64 strings as JSON, options in the query).
func TestCompreFaceJavaScriptSDK(t *testing.T) {
	pkg := sdkDir(t)
	tmp := t.TempDir()
	script := filepath.Join(tmp, "sdk.mjs")
	if err := os.WriteFile(script, []byte(strings.Replace(sdkScript, "SDK_INDEX", "file://"+filepath.Join(pkg, "index.js"), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The SDK talks to Vizor through a proxy that checks its traffic
	// against the CompreFace document.
	host, port, _ := strings.Cut(compreFaceProxy(t), ":")
	// A collection of its own: a new recognition key from the CLI.
	recKey, err := srv.CLI("compreface-keys", "create", "-type", "recognition", "-name", "sdk")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = srv.FacesDir // the SDK takes paths starting with "./" as files
	cmd.Env = append(os.Environ(), "CF_SERVER=http://"+host, "CF_PORT="+port,
		"REC_KEY="+strings.TrimSpace(recKey), "DET_KEY="+srv.Keys["detection"], "VER_KEY="+srv.Keys["verification"])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res map[string]any
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "RESULT:"); ok {
			if err := json.Unmarshal([]byte(s), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res == nil {
		t.Fatalf("no result from the SDK script:\n%s", out)
	}
	for k, v := range res {
		if m, ok := v.(map[string]any); ok && m["sdk_error"] != nil {
			t.Errorf("%s: %s", k, short(m["sdk_error"]))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if obj(t, res["subject_add"])["subject"] != "sdk_jimin" {
		t.Fatalf("subject add: %s", short(res["subject_add"]))
	}
	add1 := obj(t, res["add1"])
	if add1["subject"] != "sdk_jimin" || len(add1["image_id"].(string)) != 36 {
		t.Fatalf("add (options appended with a second '?'): %s", short(add1))
	}
	if obj(t, res["add_b64"])["subject"] != "sdk_eunseo" {
		t.Fatalf("add base64: %s", short(res["add_b64"]))
	}
	if n := num(t, obj(t, res["list"])["total_elements"]); n != 3 {
		t.Fatalf("list: %s", short(res["list"]))
	}
	if s := short(obj(t, res["subjects"])["subjects"]); !strings.Contains(s, "sdk_jimin") || !strings.Contains(s, "sdk_tzuyu") {
		t.Fatalf("subjects: %s", s)
	}
	recog := obj(t, res["recognize"])
	has(t, recog, "result", "plugins_versions")
	f := obj(t, arr(t, recog["result"])[0])
	has(t, f, "box", "subjects", "age", "gender", "landmarks", "embedding", "execution_time")
	if s := obj(t, arr(t, f["subjects"])[0]); s["subject"] != "sdk_jimin" || num(t, s["similarity"]) < 0.5 {
		t.Fatalf("recognize: %s", short(s))
	}
	if s := obj(t, arr(t, obj(t, arr(t, obj(t, res["recognize_b64"])["result"])[0])["subjects"])[0]); s["subject"] != "sdk_tzuyu" {
		t.Fatalf("recognize base64: %s", short(s))
	}
	if v := obj(t, arr(t, obj(t, res["verify"])["result"])[0]); num(t, v["similarity"]) < 0.5 {
		t.Fatalf("verify: %s", short(v))
	}
	if d := arr(t, obj(t, res["detect"])["result"]); len(d) != 1 {
		t.Fatalf("detect: %s", short(d))
	}
	vr := obj(t, arr(t, obj(t, res["verification"])["result"])[0])
	if m := obj(t, arr(t, vr["face_matches"])[0]); num(t, m["similarity"]) < 0.5 {
		t.Fatalf("verification: %s", short(vr))
	}
	if obj(t, res["delete"])["subject"] != "sdk_tzuyu" || obj(t, res["rename"])["updated"] != true || obj(t, res["delete_subject"])["subject"] != "sdk_eunseo2" {
		t.Fatalf("delete/rename: %s %s %s", short(res["delete"]), short(res["rename"]), short(res["delete_subject"]))
	}
}
