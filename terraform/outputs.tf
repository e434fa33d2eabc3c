output "image" {
  description = "Where infra/cloudbuild.yaml must push the eo-fusion image (_IMAGE:_TAG)."
  value       = local.image
}

output "outputs_bucket" {
  description = "Fused products (gs://BUCKET/products, a static STAC catalog) and run reports."
  value       = google_storage_bucket.outputs.name
}

output "temp_location" {
  description = "Dataflow temp folder (--temp-location)."
  value       = "gs://${google_storage_bucket.temp.name}/tmp"
}

output "template_spec" {
  description = "Flex Template spec (--template)."
  value       = "gs://${google_storage_bucket.templates.name}/${google_storage_bucket_object.template_spec.name}"
}

output "request_uri" {
  description = "The scheduled request file (--request)."
  value       = "gs://${google_storage_bucket.templates.name}/${google_storage_bucket_object.request.name}"
}

output "worker_service_account" {
  description = "Worker service account (--service-account)."
  value       = google_service_account.worker.email
}

output "scheduler_service_account" {
  description = "Service account Cloud Scheduler launches with."
  value       = google_service_account.scheduler.email
}

output "subnetwork" {
  description = "Worker subnetwork (--subnetwork)."
  value       = "regions/${var.region}/subnetworks/${google_compute_subnetwork.workers.name}"
}

output "scheduler_job" {
  description = "Run it now: gcloud scheduler jobs run NAME --location REGION."
  value       = google_cloud_scheduler_job.fusion.name
}
