"""The Prometheus scrape endpoints: views, URLs and who may read them."""
