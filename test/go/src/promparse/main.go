// promparse reads a Prometheus text exposition on stdin with the Prometheus
// project's own parser (github.com/prometheus/common/expfmt) and prints each
// family's type, label names and sample count as JSON, so that tests can
// check /metrics the way Prometheus itself reads it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

type family struct {
	Type    string             `json:"type"`
	Labels  []string           `json:"labels"`
	Samples int                `json:"samples"`
	Values  map[string]float64 `json:"values"`
}

func main() {
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]family{}
	for name, mf := range families {
		labels := map[string]bool{}
		values := map[string]float64{}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			values[key] = value(mf.GetType(), m)
		}
		names := []string{}
		for l := range labels {
			names = append(names, l)
		}
		sort.Strings(names)
		out[name] = family{Type: mf.GetType().String(), Labels: names, Samples: len(mf.GetMetric()), Values: values}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// value is a sample's value; for a histogram, its count of observations.
func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	case dto.MetricType_SUMMARY:
		return float64(m.GetSummary().GetSampleCount())
	default:
		return m.GetUntyped().GetValue()
	}
}
