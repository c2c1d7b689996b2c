package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"vizor/gallery"
)

// galleryCollector reads the gallery's counts at each scrape: no counter to
// keep in step with enrolments and deletions, and a partition deleted is
// gone from the next scrape.
type galleryCollector struct {
	stats                       func() (gallery.Stats, error)
	templates, parts            *prometheus.Desc
	partTemplates, partSubjects *prometheus.Desc
}

// NewGalleryCollector exports the gallery's sizes: vizor_gallery_templates
// (the total, the name the server always had), vizor_gallery_partitions,
// and per partition vizor_gallery_partition_templates and
// vizor_gallery_partition_subjects. A failing stats call exports nothing
// for that scrape (the scrape reports the error).
func NewGalleryCollector(stats func() (gallery.Stats, error)) prometheus.Collector {
	return &galleryCollector{
		stats:         stats,
		templates:     prometheus.NewDesc("vizor_gallery_templates", "Templates stored in the gallery.", nil, nil),
		parts:         prometheus.NewDesc("vizor_gallery_partitions", "Partitions in the gallery.", nil, nil),
		partTemplates: prometheus.NewDesc("vizor_gallery_partition_templates", "Templates stored per partition.", []string{"partition"}, nil),
		partSubjects:  prometheus.NewDesc("vizor_gallery_partition_subjects", "Subjects enrolled per partition.", []string{"partition"}, nil),
	}
}

func (c *galleryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.templates
	ch <- c.parts
	ch <- c.partTemplates
	ch <- c.partSubjects
}

func (c *galleryCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.templates, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.templates, prometheus.GaugeValue, float64(st.Templates))
	ch <- prometheus.MustNewConstMetric(c.parts, prometheus.GaugeValue, float64(st.Partitions))
	for _, p := range st.PerPartition {
		ch <- prometheus.MustNewConstMetric(c.partTemplates, prometheus.GaugeValue, float64(p.Templates), p.Name)
		ch <- prometheus.MustNewConstMetric(c.partSubjects, prometheus.GaugeValue, float64(p.Subjects), p.Name)
	}
}
