"""What X-Ray traces in every handler: AWS SDK calls (botocore) and plain HTTP (http.client, which urllib uses: the
MLflow client, health probes, the data-collection proxy). Powertools would otherwise patch every library the X-Ray
SDK supports, importing requests, httpx and more at each cold start for calls these handlers never make."""

PATCHED_MODULES = ("botocore", "httplib")
