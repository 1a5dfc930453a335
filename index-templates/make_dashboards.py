#!/usr/bin/env python3
"""Writes dashboards.ndjson: the OpenSearch Dashboards saved objects for logs-to-opensearch.

An index pattern for cwl-* (time field @timestamp), seven visualizations, a saved search of the raw
entries and the "Slow queries" dashboard. Legacy visualizations (visState), which OpenSearch
Dashboards 1.x / 2.x and Kibana 7 import. `logs-to-opensearch setup` imports the file, with the
index prefix put in place of cwl. Run this script after changing it; tests/dashboards.rs checks that
every field it names is in the index template, with a type its aggregation can use.
"""
import json
import pathlib

PATTERN_ID = "logs-to-opensearch-cwl"
SLOW = "Query_time:*"


def search_source(query=SLOW):
    return json.dumps({
        "query": {"query": query, "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    })


def index_ref():
    return [{"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": PATTERN_ID}]


def agg(id, type, schema, **params):
    return {"id": str(id), "enabled": True, "type": type, "schema": schema, "params": params}


def terms(id, field, size, order_by, schema="bucket", label=None):
    params = {"field": field, "size": size, "order": "desc", "orderBy": str(order_by),
              "otherBucket": False, "missingBucket": False}
    if label:
        params["customLabel"] = label
    return agg(id, "terms", schema, **params)


def vis(id, title, vis_type, aggs, params, description=""):
    return {
        "type": "visualization", "id": id,
        "attributes": {
            "title": title, "description": description, "version": 1, "uiStateJSON": "{}",
            "visState": json.dumps({"title": title, "type": vis_type, "aggs": aggs, "params": params}),
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source()},
        },
        "references": index_ref(),
    }


def table_params():
    return {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": False,
            "totalFunc": "sum", "percentageCol": ""}


def line_params(value_axis_title):
    return {
        "type": "line", "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [],
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": True,
                          "scale": {"type": "linear"}, "labels": {"show": True, "truncate": 100}, "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": True,
                       "scale": {"type": "linear", "mode": "normal"}, "labels": {"show": True, "rotate": 0,
                       "filter": False, "truncate": 100}, "title": {"text": value_axis_title}}],
        "seriesParams": [], "grid": {"categoryLines": False},
    }


def date_histogram(id):
    return agg(id, "date_histogram", "segment", field="@timestamp", useNormalizedOpenSearchInterval=True,
               interval="auto", drop_partials=False, min_doc_count=1, extended_bounds={})


objects = [
    {
        "type": "index-pattern", "id": PATTERN_ID,
        "attributes": {"title": "cwl-*", "timeFieldName": "@timestamp"},
        "references": [],
    },
    vis("logs-to-opensearch-slow-queries-over-time", "Slow queries over time per database instance", "line",
        [agg(1, "count", "metric"), date_histogram(2), terms(3, "@log_group", 10, 1, schema="group")],
        line_params("Slow queries")),
    vis("logs-to-opensearch-top-fingerprints-total", "Top fingerprints by total Query_time", "table",
        [agg(1, "sum", "metric", field="Query_time", customLabel="Total Query_time (s)"),
         agg(2, "count", "metric", customLabel="Queries"),
         agg(3, "avg", "metric", field="Query_time", customLabel="Average Query_time (s)"),
         agg(4, "max", "metric", field="Query_time", customLabel="Max Query_time (s)"),
         agg(5, "sum", "metric", field="Rows_examined", customLabel="Rows examined"),
         terms(6, "Fingerprint.keyword", 20, 1, label="Fingerprint"),
         terms(7, "Fingerprint_id", 1, 1, label="Fingerprint_id"),
         terms(8, "Engine", 1, 1, label="Engine")],
        table_params(), "The pt-query-digest / pgBadger view: where the database's time goes, MySQL and PostgreSQL alike."),
    vis("logs-to-opensearch-top-fingerprints-max", "Top fingerprints by max Query_time", "table",
        [agg(1, "max", "metric", field="Query_time", customLabel="Max Query_time (s)"),
         agg(2, "count", "metric", customLabel="Queries"),
         agg(3, "max", "metric", field="Rows_examined", customLabel="Max rows examined"),
         terms(4, "Fingerprint.keyword", 20, 1, label="Fingerprint")],
        table_params(), "The slowest single executions, by statement shape."),
    vis("logs-to-opensearch-rows-examined-vs-sent", "Rows examined vs rows sent", "line",
        [agg(1, "sum", "metric", field="Rows_examined", customLabel="Rows examined"),
         agg(2, "sum", "metric", field="Rows_sent", customLabel="Rows sent"),
         date_histogram(3)],
        line_params("Rows"), "A wide gap means scans: indexes to add."),
    vis("logs-to-opensearch-users-and-clients", "Users and client addresses", "table",
        [agg(1, "count", "metric", customLabel="Queries"),
         agg(2, "sum", "metric", field="Query_time", customLabel="Total Query_time (s)"),
         terms(3, "User", 20, 1, label="User"),
         terms(4, "IP", 10, 1, label="Client address")],
        table_params()),
    vis("logs-to-opensearch-query-types", "Slow queries by type", "pie",
        [agg(1, "count", "metric"), terms(2, "Query_type", 10, 1, schema="segment")],
        {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
         "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}}),
    vis("logs-to-opensearch-engines", "Slow queries by engine", "pie",
        [agg(1, "count", "metric"), terms(2, "Engine", 5, 1, schema="segment")],
        {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
         "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}},
        "MySQL-family and PostgreSQL: click a slice to filter the dashboard to one engine."),
    {
        "type": "search", "id": "logs-to-opensearch-slow-query-entries",
        "attributes": {
            "title": "Slow-query entries", "description": "The raw entries, slowest first.",
            "columns": ["@log_group", "Engine", "User", "IP", "Query_time", "Rows_examined", "Rows_sent", "Query"],
            "sort": [["Query_time", "desc"]], "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source()},
        },
        "references": index_ref(),
    },
]

panels = [
    ("logs-to-opensearch-slow-queries-over-time", "visualization", 0, 0, 48, 15),
    ("logs-to-opensearch-top-fingerprints-total", "visualization", 0, 15, 48, 18),
    ("logs-to-opensearch-top-fingerprints-max", "visualization", 0, 33, 24, 18),
    ("logs-to-opensearch-rows-examined-vs-sent", "visualization", 24, 33, 24, 18),
    ("logs-to-opensearch-users-and-clients", "visualization", 0, 51, 16, 15),
    ("logs-to-opensearch-query-types", "visualization", 16, 51, 16, 15),
    ("logs-to-opensearch-engines", "visualization", 32, 51, 16, 15),
    ("logs-to-opensearch-slow-query-entries", "search", 0, 66, 48, 20),
]
objects.append({
    "type": "dashboard", "id": "logs-to-opensearch-slow-queries",
    "attributes": {
        "title": "Slow queries", "description": "RDS / Aurora MySQL, MariaDB and PostgreSQL slow queries (logs-to-opensearch).",
        "hits": 0, "timeRestore": True, "timeFrom": "now-24h", "timeTo": "now", "refreshInterval": {"pause": True, "value": 0},
        "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "panelsJSON": json.dumps([
            {"panelIndex": str(i + 1), "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i + 1)},
             "version": "2.11.0", "panelRefName": f"panel_{i}", "embeddableConfig": {}}
            for i, (_, _, x, y, w, h) in enumerate(panels)
        ]),
        "version": 1,
        "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})},
    },
    "references": [{"name": f"panel_{i}", "type": kind, "id": id} for i, (id, kind, *_rest) in enumerate(panels)],
})

out = pathlib.Path(__file__).with_name("dashboards.ndjson")
out.write_text("".join(json.dumps(o, sort_keys=True) + "\n" for o in objects))
print(f"wrote {out} ({len(objects)} objects)")
