package openapitest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vizor/internal/faceset"
	"vizor/server/openapi"
)

func jsonReq(t *testing.T, method, path, body string) (*http.Request, []byte) {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r, []byte(body)
}

var xmlHdr = http.Header{"Content-Type": {"application/xml; charset=utf-8"}}
var jsonHdr = http.Header{"Content-Type": {"application/json"}}

const goodSearch = `<?xml version="1.0" encoding="UTF-8"?>
<SearchResponse>
  <status>OK</status>
  <candidates>
    <candidate><subject_id>bona</subject_id><score>0.8231</score><rank>1</rank></candidate>
    <candidate><subject_id>jimin</subject_id><score>0.31</score><rank>2</rank></candidate>
  </candidates>
  <quality_score>0.87</quality_score>
  <model_id>m1</model_id>
  <partition>default</partition>
  <face><index>0</index><selection>largest</selection><faces_detected>1</faces_detected>
    <box x="1.0" y="2.0" width="30.0" height="40.0"/><detection_score>0.9</detection_score></face>
</SearchResponse>`

// A response of the right shape passes, and each kind of deliberately
// wrong response fails: the validator is not a rubber stamp.
func TestXMLResponses(t *testing.T) {
	d := MustLoad(openapi.XMLAPI)
	req, body := jsonReq(t, "POST", "/api/v1/search", `{"image":"QUJD","top_k":2}`)
	if err := d.Exchange(req, body, 200, xmlHdr, []byte(goodSearch)); err != nil {
		t.Fatalf("a good answer fails: %v", err)
	}
	empty := strings.Replace(goodSearch, `<candidate><subject_id>bona</subject_id><score>0.8231</score><rank>1</rank></candidate>
    <candidate><subject_id>jimin</subject_id><score>0.31</score><rank>2</rank></candidate>`, "", 1)
	if err := d.Exchange(req, body, 200, xmlHdr, []byte(empty)); err != nil {
		t.Fatalf("no candidates fails: %v", err)
	}
	wrong := map[string]string{
		"missing element":      strings.Replace(goodSearch, "<model_id>m1</model_id>", "", 1),
		"score not a number":   strings.Replace(goodSearch, "<score>0.31</score>", "<score>high</score>", 1),
		"rank not an integer":  strings.Replace(goodSearch, "<rank>2</rank>", "<rank>2.5</rank>", 1),
		"rank zero":            strings.Replace(goodSearch, "<rank>1</rank>", "<rank>0</rank>", 1),
		"wrong root":           strings.ReplaceAll(goodSearch, "SearchResponse>", "VerifyResponse>"),
		"undocumented element": strings.Replace(goodSearch, "<partition>", "<secret>x</secret><partition>", 1),
		"attribute missing":    strings.Replace(goodSearch, `width="30.0" `, "", 1),
		"status not OK":        strings.Replace(goodSearch, "<status>OK</status>", "<status>FAIL</status>", 1),
		"item misnamed":        strings.Replace(goodSearch, "<candidate><subject_id>bona</subject_id><score>0.8231</score><rank>1</rank></candidate>", "<cand><subject_id>bona</subject_id><score>0.8231</score><rank>1</rank></cand>", 1),
		"element twice":        strings.Replace(goodSearch, "<model_id>m1</model_id>", "<model_id>m1</model_id><model_id>m2</model_id>", 1),
		"not XML":              `{"status":"OK"}`,
	}
	for name, b := range wrong {
		err := d.Exchange(req, body, 200, xmlHdr, []byte(b))
		if err == nil || !IsError(err) {
			t.Errorf("%s: passes validation (%v)", name, err)
		}
	}
	// An error answer has its own schema.
	errXML := `<?xml version="1.0"?><ErrorResponse><status>422</status><code>quality_rejected</code><message>too blurry</message><gate>quality</gate><gate_score>0.1</gate_score><threshold>0.3</threshold><request_id>abc</request_id></ErrorResponse>`
	if err := d.Exchange(req, body, 422, xmlHdr, []byte(errXML)); err != nil {
		t.Fatalf("a good error fails: %v", err)
	}
	if err := d.Exchange(req, body, 422, xmlHdr, []byte(strings.Replace(errXML, "<message>too blurry</message>", "", 1))); err == nil {
		t.Error("an error without message passes")
	}
}

// A request the document refuses must be refused by the server: a 200
// to it is a failure, a 4xx is what the document expects.
func TestRefusedRequests(t *testing.T) {
	d := MustLoad(openapi.XMLAPI)
	for name, b := range map[string]string{
		"unknown field":  `{"image":"QUJD","colour":"red"}`,
		"missing image":  `{"partition":"p"}`,
		"top_k zero":     `{"image":"QUJD","top_k":0}`,
		"top_k a string": `{"image":"QUJD","top_k":"5"}`,
	} {
		req, body := jsonReq(t, "POST", "/api/v1/search", b)
		if err := d.Exchange(req, body, 200, xmlHdr, []byte(goodSearch)); err == nil {
			t.Errorf("%s: answered 200 and passes", name)
		}
		errXML := `<ErrorResponse><status>400</status><code>invalid_field</code><message>m</message></ErrorResponse>`
		if err := d.Exchange(req, body, 400, xmlHdr, []byte(errXML)); err != nil {
			t.Errorf("%s: refused with 400 and fails: %v", name, err)
		}
	}
	// The console's detection call takes the image itself as the body.
	img := httptest.NewRequest("POST", "http://h/ui/api/detect", strings.NewReader("\xff\xd8\xff"))
	img.Header.Set("Content-Type", "image/jpeg")
	det := `{"width":640,"height":480,"faces":[{"box":{"x":1,"y":2,"w":3,"h":4},"det_score":0.9,"landmarks":[{"x":1,"y":2}],"liveness":0.99}]}`
	if err := d.Exchange(img, []byte("\xff\xd8\xff"), 200, jsonHdr, []byte(det)); err != nil {
		t.Errorf("console detect: %v", err)
	}
	if err := d.Exchange(img, []byte("\xff\xd8\xff"), 200, jsonHdr, []byte(strings.Replace(det, `"det_score":0.9,`, "", 1))); err == nil {
		t.Error("console detect without det_score passes")
	}
	// A path the document does not have must be 404 (or 405).
	req, _ := jsonReq(t, "GET", "/nope", "")
	if err := d.Exchange(req, nil, 200, jsonHdr, []byte(`{}`)); err == nil {
		t.Error("an undocumented path answered 200 passes")
	}
	if err := d.Exchange(req, nil, 404, xmlHdr, []byte(`<ErrorResponse/>`)); err != nil {
		t.Errorf("404 for an undocumented path: %v", err)
	}
}

func TestJSONResponses(t *testing.T) {
	fn := MustLoad(openapi.Facenet512)
	var buf bytes.Buffer
	buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"reference_key\"\r\n\r\nabc\r\n--b--\r\n")
	req := httptest.NewRequest("POST", "http://h/compare_with_reference", bytes.NewReader(buf.Bytes()))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	good := `{"reference_key":"abc","result":{"verified":true,"distance":0.2,"threshold":0.5}}`
	if err := fn.Exchange(req, buf.Bytes(), 200, jsonHdr, []byte(good)); err != nil {
		t.Fatalf("good compare fails: %v", err)
	}
	for name, c := range map[string]struct {
		status int
		body   string
	}{
		"distance as a string": {200, `{"reference_key":"abc","result":{"verified":true,"distance":"0.2","threshold":0.5}}`},
		"undocumented field":   {200, `{"reference_key":"abc","result":{"verified":true,"distance":0.2,"threshold":0.5,"x":1}}`},
		"undocumented status":  {418, `{"detail":"teapot"}`},
		"error shape":          {404, `{"message":"No reference"}`},
	} {
		if err := fn.Exchange(req, buf.Bytes(), c.status, jsonHdr, []byte(c.body)); err == nil {
			t.Errorf("facenet %s passes", name)
		}
	}
	mh := MustLoad(openapi.MassHealth)
	r2, b2 := jsonReq(t, "POST", "/compare", `{"image1":"QUJD","image2":"QUJD","threshold":0.5}`)
	if err := mh.Exchange(r2, b2, 200, jsonHdr, []byte(`{"match":true,"similarity_score":0.77,"threshold":0.5,"confidence":"medium"}`)); err != nil {
		t.Fatalf("good masshealth compare fails: %v", err)
	}
	if err := mh.Exchange(r2, b2, 200, jsonHdr, []byte(`{"match":true,"similarity_score":0.77,"threshold":0.5,"confidence":"very high"}`)); err == nil {
		t.Error("masshealth: a confidence outside the bands passes")
	}
	if err := mh.Exchange(r2, b2, 200, jsonHdr, []byte(`{"match":true,"similarity_score":1.7,"threshold":0.5,"confidence":"high"}`)); err == nil {
		t.Error("masshealth: a score above 1 passes")
	}
	cf := MustLoad(openapi.CompreFace)
	r3, b3 := jsonReq(t, "POST", "/api/v1/recognition/subjects", `{"subject":"Jane"}`)
	r3.Header.Set("x-api-key", "00000000-0000-0000-0000-000000000000")
	if err := cf.Exchange(r3, b3, 201, jsonHdr, []byte(`{"subject":"Jane"}`)); err != nil {
		t.Fatalf("good subject add fails: %v", err)
	}
	if err := cf.Exchange(r3, b3, 400, jsonHdr, []byte(`{"message":"Subject name is empty","code":"5"}`)); err == nil {
		t.Error("compreface: a string code passes")
	}
}

// The Transport validates real round trips: a server answering off the
// document fails the client's call with an *Error.
func TestTransport(t *testing.T) {
	answer := goodSearch
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	tr := &Transport{}
	tr.Bind(strings.TrimPrefix(srv.URL, "http://"), openapi.XMLAPI)
	c := &http.Client{Transport: tr}
	post := func() error {
		res, err := c.Post(srv.URL+"/api/v1/search", "application/json", strings.NewReader(`{"image":"QUJD"}`))
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != answer {
				t.Fatalf("body changed on the way: %q", b)
			}
		}
		return err
	}
	if err := post(); err != nil {
		t.Fatal(err)
	}
	answer = strings.Replace(goodSearch, "<quality_score>0.87</quality_score>", "", 1)
	if err := post(); !IsError(err) {
		t.Fatalf("a wrong answer through the transport: %v", err)
	}
	if checked, _ := MustLoad(openapi.XMLAPI).Counts(); checked == 0 {
		t.Error("nothing counted")
	}
}

// xmlapi.xsd accepts the answers the OpenAPI document accepts and refuses
// what XML tools would refuse, element order included (which the OpenAPI
// schemas do not constrain).
func TestXSD(t *testing.T) {
	if _, err := xmllint(); err != nil {
		faceset.Missing(t, "xmllint (libxml2-utils: scripts/deps.sh)", err)
	}
	errXML := `<?xml version="1.0"?><ErrorResponse><status>422</status><code>quality_rejected</code><message>too blurry</message><gate>quality</gate><gate_score>0.1</gate_score><threshold>0.3</threshold><request_id>abc</request_id></ErrorResponse>`
	for name, b := range map[string]string{"search": goodSearch, "error": errXML} {
		if err := ValidateXSD([]byte(b)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, b := range map[string]string{
		"order swapped":  strings.Replace(strings.Replace(goodSearch, "<model_id>m1</model_id>", "", 1), "</partition>", "</partition><model_id>m1</model_id>", 1),
		"rank zero":      strings.Replace(goodSearch, "<rank>1</rank>", "<rank>0</rank>", 1),
		"unknown root":   strings.ReplaceAll(goodSearch, "SearchResponse>", "SearchResult>"),
		"match a word":   `<VerifyResponse><status>OK</status><match>yes</match></VerifyResponse>`,
		"status 200 err": strings.Replace(errXML, "<status>422</status>", "<status>200</status>", 1),
	} {
		if err := ValidateXSD([]byte(b)); err == nil {
			t.Errorf("%s: passes the XSD", name)
		}
	}
	// The transport applies it to the XML API's answers.
	d := MustLoad(openapi.XMLAPI)
	req, body := jsonReq(t, "POST", "/api/v1/search", `{"image":"QUJD"}`)
	swapped := strings.Replace(strings.Replace(goodSearch, "<model_id>m1</model_id>", "", 1), "</partition>", "</partition><model_id>m1</model_id>", 1)
	if err := d.Exchange(req, body, 200, xmlHdr, []byte(swapped)); !IsError(err) {
		t.Errorf("elements out of order pass the transport: %v", err)
	}
}
