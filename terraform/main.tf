# eo-fusion on Google Cloud: buckets, image registry, private worker network, service accounts,
# the Flex Template spec and a Cloud Scheduler job that launches it. See README "Deploy".

locals {
  outputs_bucket   = coalesce(var.outputs_bucket, "${var.project}-${var.name}-outputs")
  temp_bucket      = coalesce(var.temp_bucket, "${var.project}-${var.name}-temp")
  templates_bucket = coalesce(var.templates_bucket, "${var.project}-${var.name}-templates")
  logs_bucket      = coalesce(var.logs_bucket, "${var.project}-${var.name}-access-logs")
  image            = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}/eo-fusion:${var.image_tag}"
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
  ])
  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Holds only the open-source eo-fusion image (no data, no secrets); Google-managed encryption suffices and a CMEK key ring would outlive the stack.
  project       = var.project
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "eo-fusion worker and Flex Template launcher images"
  labels        = var.labels

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  depends_on = [google_project_service.apis]
}
