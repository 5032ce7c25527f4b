// chart-render renders a Helm chart as `helm template` does, for machines
// without Helm (Debian 12 has none): the same template engine (Go's
// text/template with the sprig function library, Helm's own dependency),
// values parsed and printed by the same YAML library as Helm
// (sigs.k8s.io/yaml), and the rules of Helm 3's engine (pkg/engine,
// pkg/chartutil) as documented and as this chart relies on them:
//
//   - every file under templates/ is parsed into one template set, named
//     CHART/templates/FILE; files whose name starts with "_" only define
//     templates; NOTES.txt is not rendered (helm template leaves it out);
//   - functions: sprig's text functions less env and expandenv, and Helm's
//     include, tpl, required, toYaml, fromYaml, fromYamlArray, toJson,
//     fromJson, fromJsonArray, lookup (always empty, as helm template);
//   - missingkey=zero, then "<no value>" removed from the output;
//   - values: the chart's values.yaml, then each -f file, then each --set,
//     merged map by map; a null from a later source deletes the key;
//   - built-in objects: .Values, .Release (Name, Namespace, Service,
//     IsInstall, IsUpgrade, Revision), .Chart (Chart.yaml's fields by
//     their Go names), .Capabilities.KubeVersion (--kube-version) and
//     .Capabilities.APIVersions.Has, .Template (Name, BasePath);
//   - Chart.yaml's kubeVersion constraint is checked against --kube-version.
//
// Not done: subcharts and dependencies, .Files, values.schema.json, --set
// list indices and escapes (only a.b.c=value, typed as Helm's --set:
// true/false, integers, null, else a string), sorting the output by kind.
//
// Build (GOPATH mode, Debian's packaged sources, no network):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o chart-render .
//
// Usage:
//
//	chart-render [--name R] [--namespace N] [--kube-version V]
//	             [-f VALUES.yaml]... [--set a.b=v]... CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver" // module .../v3, in GOPATH mode by its folder
	"github.com/Masterminds/sprig"  // module .../v3, in GOPATH mode by its folder
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Chart is Chart.yaml as Helm's chart.Metadata exposes it to templates.
type Chart struct {
	Name         string            `json:"name"`
	Home         string            `json:"home"`
	Sources      []string          `json:"sources"`
	Version      string            `json:"version"`
	Description  string            `json:"description"`
	Keywords     []string          `json:"keywords"`
	Icon         string            `json:"icon"`
	APIVersion   string            `json:"apiVersion"`
	Condition    string            `json:"condition"`
	Tags         string            `json:"tags"`
	AppVersion   string            `json:"appVersion"`
	Deprecated   bool              `json:"deprecated"`
	Annotations  map[string]string `json:"annotations"`
	KubeVersion  string            `json:"kubeVersion"`
	Type         string            `json:"type"`
	Dependencies []interface{}     `json:"dependencies"`
}

type Release struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string { return k.Version }

type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions APIVersions
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "chart-render: "+format+"\n", args...)
	os.Exit(1)
}

func readYAMLMap(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		fail("%s: %v", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m
}

// merge puts src over dst, map by map; a nil in src deletes the key (Helm's
// coalescing of user values over chart defaults).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// setValue applies one --set a.b.c=value, typed as Helm's strvals does.
func setValue(values map[string]interface{}, assignment string) {
	eq := strings.Index(assignment, "=")
	if eq <= 0 {
		fail("--set %q: want key=value", assignment)
	}
	keys := strings.Split(assignment[:eq], ".")
	raw := assignment[eq+1:]
	var value interface{} = raw
	switch {
	case raw == "true":
		value = true
	case raw == "false":
		value = false
	case raw == "null":
		value = nil
	default:
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil &&
			(raw == "0" || !strings.HasPrefix(raw, "0")) {
			value = n
		}
	}
	m := values
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	last := keys[len(keys)-1]
	if value == nil {
		delete(m, last)
	} else {
		m[last] = value
	}
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(str string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func required(warn string, val interface{}) (interface{}, error) {
	if val == nil {
		return val, errors.New(warn)
	}
	if s, ok := val.(string); ok && s == "" {
		return val, errors.New(warn)
	}
	return val, nil
}

func main() {
	var valueFiles, sets listFlag
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.29.0",
		"Kubernetes version for .Capabilities and Chart.yaml's kubeVersion")
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&sets, "set", "a.b.c=value (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: chart-render [flags] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	var chart Chart
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		fail("%v", err)
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		fail("Chart.yaml: %v", err)
	}
	if chart.APIVersion != "v2" || chart.Name == "" || chart.Version == "" {
		fail("Chart.yaml: apiVersion v2, name and version are required")
	}
	if _, err := semver.StrictNewVersion(chart.Version); err != nil {
		fail("Chart.yaml: version %q is not SemVer 2: %v", chart.Version, err)
	}
	kv, err := semver.NewVersion(*kubeVersion)
	if err != nil {
		fail("--kube-version: %v", err)
	}
	if chart.KubeVersion != "" {
		c, err := semver.NewConstraint(chart.KubeVersion)
		if err != nil {
			fail("Chart.yaml kubeVersion: %v", err)
		}
		if !c.Check(kv) {
			fail("chart requires kubeVersion: %s which is incompatible with "+
				"Kubernetes %s", chart.KubeVersion, *kubeVersion)
		}
	}

	values := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(chartDir, "values.yaml")); err == nil {
		values = readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	}
	for _, f := range valueFiles {
		values = merge(values, readYAMLMap(f))
	}
	for _, s := range sets {
		for _, a := range strings.Split(s, ",") {
			setValue(values, a)
		}
	}

	// Parse every template into one set, as Helm's engine does.
	tmplDir := filepath.Join(chartDir, "templates")
	var files []string
	err = filepath.Walk(tmplDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		fail("%v", err)
	}
	sort.Strings(files)

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includeDepth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth[name]++
		defer func() { includeDepth[name]-- }()
		if includeDepth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		tt, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = tt.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["required"] = required
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["fromJsonArray"] = fromJSONArray
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	t.Funcs(funcs)

	names := map[string]string{}
	for _, f := range files {
		rel, _ := filepath.Rel(chartDir, f)
		tname := path.Join(chart.Name, filepath.ToSlash(rel))
		text, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		if _, err := t.New(tname).Parse(string(text)); err != nil {
			fail("parse error in %s: %v", tname, err)
		}
		names[tname] = f
	}

	release := Release{Name: *name, Namespace: *namespace, Service: "Helm",
		IsInstall: true, Revision: 1}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: "v" + kv.String(),
			Major: strconv.FormatUint(kv.Major(), 10),
			Minor: strconv.FormatUint(kv.Minor(), 10)},
		APIVersions: APIVersions{"v1", "apps/v1", "batch/v1",
			"networking.k8s.io/v1", "policy/v1", "autoscaling/v2"},
	}
	var order []string
	for n := range names {
		order = append(order, n)
	}
	sort.Strings(order)
	var out bytes.Buffer
	for _, tname := range order {
		base := path.Base(tname)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        chart,
			"Capabilities": caps,
			"Template": map[string]interface{}{
				"Name": tname, "BasePath": path.Join(chart.Name, "templates")},
			"Files": map[string]interface{}{},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, tname, top); err != nil {
			fail("%v", err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname,
			strings.TrimSpace(text))
	}
	os.Stdout.Write(out.Bytes())
}
