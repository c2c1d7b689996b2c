package openapitest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// kin-openapi decodes JSON, forms and text but not XML; the XML API's
// bodies are described by schemas with OpenAPI's xml keywords (element
// names, attributes, wrapped arrays). xmlDecoder turns an XML body into the
// JSON-shaped value those schemas describe, guided by the schema, so the
// ordinary schema validation then checks it: a missing element is a
// missing property, a text that does not parse as the schema's type stays a
// string and fails the type check, and an element the schema does not name
// is kept as a property (caught by additionalProperties: false).
func xmlDecoder(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	root, err := parseXML(body)
	if err != nil {
		return nil, err
	}
	s := value(schema)
	if want := xmlName(s, ""); want != "" && root.name != want {
		return nil, fmt.Errorf("root element <%s>, the document says <%s>", root.name, want)
	}
	return convert(root, s), nil
}

type node struct {
	name  string
	attrs map[string]string
	kids  []*node
	text  strings.Builder
}

func parseXML(r io.Reader) (*node, error) {
	dec := xml.NewDecoder(r)
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("XML: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("XML: no root element")
	}
	return root, nil
}

func value(r *openapi3.SchemaRef) *openapi3.Schema {
	if r == nil || r.Value == nil {
		return &openapi3.Schema{}
	}
	return r.Value
}

func xmlName(s *openapi3.Schema, def string) string {
	if s.XML != nil && s.XML.Name != "" {
		return s.XML.Name
	}
	return def
}

// kind is the schema's one non-null type ("" when it names none, as a
// const-only schema does).
func kind(s *openapi3.Schema) string {
	if s.Type != nil {
		for _, t := range s.Type.Slice() {
			if t != "null" {
				return t
			}
		}
	}
	if len(s.Properties) > 0 {
		return "object"
	}
	return ""
}

func convert(n *node, s *openapi3.Schema) any {
	switch kind(s) {
	case "object":
		return object(n, s)
	case "array":
		return items(n.kids, s)
	}
	if len(n.kids) > 0 { // elements where the schema wants text: keep them, to fail the type check
		return object(n, &openapi3.Schema{})
	}
	return leaf(n.text.String(), s)
}

func object(n *node, s *openapi3.Schema) map[string]any {
	out := map[string]any{}
	named := map[string]bool{}
	for prop, ref := range s.Properties {
		ps := value(ref)
		if ps.XML != nil && ps.XML.Attribute {
			name := xmlName(ps, prop)
			named["@"+name] = true
			if v, ok := n.attrs[name]; ok {
				out[prop] = leaf(v, ps)
			}
			continue
		}
		name := xmlName(ps, prop)
		if kind(ps) == "array" && (ps.XML == nil || !ps.XML.Wrapped) {
			// Unwrapped: the items repeat directly inside n.
			iname := xmlName(value(ps.Items), name)
			named[iname] = true
			var kids []*node
			for _, k := range n.kids {
				if k.name == iname {
					kids = append(kids, k)
				}
			}
			if len(kids) > 0 {
				out[prop] = items(kids, ps)
			}
			continue
		}
		named[name] = true
		var found []*node
		for _, k := range n.kids {
			if k.name == name {
				found = append(found, k)
			}
		}
		switch len(found) {
		case 0:
		case 1:
			out[prop] = convert(found[0], ps)
		default: // repeated where one is described: an array fails the type check
			vs := make([]any, len(found))
			for i, f := range found {
				vs[i] = convert(f, ps)
			}
			out[prop] = vs
		}
	}
	for _, k := range n.kids {
		if !named[k.name] {
			out[k.name] = strings.TrimSpace(k.text.String())
		}
	}
	for a, v := range n.attrs {
		if !named["@"+a] {
			out["@"+a] = v
		}
	}
	return out
}

// items converts the children of a wrapped array (or the repeated
// elements of an unwrapped one) named as the items schema says.
func items(kids []*node, s *openapi3.Schema) []any {
	is := value(s.Items)
	out := []any{}
	for _, k := range kids {
		v := convert(k, is)
		if want := xmlName(is, ""); want != "" && k.name != want {
			v = map[string]any{"unexpected element": k.name}
		}
		out = append(out, v)
	}
	return out
}

func leaf(text string, s *openapi3.Schema) any {
	switch kind(s) {
	case "integer":
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return float64(i)
		}
	case "number":
		if f, err := strconv.ParseFloat(text, 64); err == nil && !strings.ContainsAny(text, "xXpPiInN") {
			return f
		}
	case "boolean":
		switch text {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return text
}
