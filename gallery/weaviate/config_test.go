package weaviate

import (
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	c, err := ParseURL("weaviate://127.0.0.1:8380?grpc=8390")
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "127.0.0.1:8380" || c.GRPCHost != "127.0.0.1:8390" || c.Replicas != 3 || c.Write != "QUORUM" ||
		c.Read != "QUORUM" || c.Timeout != 5*time.Second || c.Prefix != "Vizor" || c.Index != "flat" || c.Compression != "bq" {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = ParseURL("weaviate://db.example:8080?grpc=grpc.example:443&replicas=5&write=all&read=one&timeout=2s&prefix=Prod&index=flat&compression=rq&keep_images=true")
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCHost != "grpc.example:443" || c.Replicas != 5 || c.Write != "ALL" || c.Read != "ONE" || c.Timeout != 2*time.Second ||
		c.Prefix != "Prod" || c.Index != "flat" || c.Compression != "rq" || !c.KeepImages {
		t.Fatalf("explicit: %+v", c)
	}
	for _, bad := range []string{
		"http://127.0.0.1:8080", "weaviate://", "weaviate://h:1?write=MOST", "weaviate://h:1?replicas=0",
		"weaviate://h:1?timeout=soon", "weaviate://h:1?prefix=lower", "weaviate://h:1?index=ivf",
		"weaviate://h:1?compression=zip", "weaviate://h:1?colour=blue",
	} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestTemplateIDDeterministic(t *testing.T) {
	a := TemplateID("p", "s", "req/1")
	if a != TemplateID("p", "s", "req/1") || a == 0 || a>>63 != 0 {
		t.Fatalf("id %d", a)
	}
	for _, o := range []uint64{TemplateID("p", "s", "req/2"), TemplateID("p", "t", "req/1"), TemplateID("q", "s", "req/1")} {
		if o == a {
			t.Fatal("different inputs, same id")
		}
	}
	if objectID("p", a) != objectID("p", a) || objectID("p", a) == objectID("q", a) {
		t.Fatal("object ids")
	}
}
