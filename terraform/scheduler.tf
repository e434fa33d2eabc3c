# A Cloud Scheduler job POSTs flexTemplates:launch with an OAuth token of the scheduler
# account. The body is static; the window moves because `last_days` is resolved at launch.
# The job name is fixed, so a run still going when the next one fires makes that launch fail
# instead of processing the same window twice.

locals {
  # Template parameters only (tests/test_infra.py checks them against infra/metadata.json).
  request_parameters = {
    request    = "gs://${google_storage_bucket.templates.name}/${google_storage_bucket_object.request.name}"
    output     = "gs://${google_storage_bucket.outputs.name}/products"
    report_dir = "gs://${google_storage_bucket.outputs.name}/reports"
    last_days  = tostring(var.last_days)
    lag_days   = tostring(var.lag_days)
    model      = var.model_package
  }
  gpu_parameters = {
    dataflow_service_options = "worker_accelerator=type:${var.gpu_type};count:${var.gpu_count};install-nvidia-driver"
  }
  launch_parameters = merge(local.request_parameters, var.gpu_type == "" ? {} : local.gpu_parameters)

  launch_environment = {
    serviceAccountEmail   = google_service_account.worker.email
    tempLocation          = "gs://${google_storage_bucket.temp.name}/tmp"
    stagingLocation       = "gs://${google_storage_bucket.temp.name}/staging"
    sdkContainerImage     = local.image
    machineType           = var.machine_type
    maxWorkers            = var.max_workers
    subnetwork            = "regions/${var.region}/subnetworks/${google_compute_subnetwork.workers.name}"
    ipConfiguration       = "WORKER_IP_PRIVATE"
    additionalExperiments = var.gpu_type == "" ? ["use_runner_v2"] : ["use_runner_v2", "no_use_multiple_sdk_containers"]
    additionalUserLabels  = var.labels
  }

  launch_body = {
    launchParameter = {
      jobName              = "${var.name}-scheduled"
      containerSpecGcsPath = "gs://${google_storage_bucket.templates.name}/${google_storage_bucket_object.template_spec.name}"
      parameters           = local.launch_parameters
      environment          = local.launch_environment
    }
  }
}

resource "google_cloud_scheduler_job" "fusion" {
  project          = var.project
  region           = var.region
  name             = "${var.name}-scheduled"
  description      = "Launch the eo-fusion Flex Template for the last ${var.last_days} days"
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = "320s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}/flexTemplates:launch"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode(local.launch_body))

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_iam_member.scheduler_dataflow,
    google_service_account_iam_member.scheduler_acts_as_worker,
  ]
}
