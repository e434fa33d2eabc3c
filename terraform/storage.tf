# Every bucket: uniform bucket-level access, public access prevention enforced, versioning, and
# access logs into the logs bucket. Outputs keep old versions for 30 days; temp files go after 7.

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:This bucket is the access-log sink; logging it into itself would loop.
  name                        = local.logs_bucket
  project                     = var.project
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "outputs" {
  name                        = local.outputs_bucket
  project                     = var.project
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Writes stage a temporary object under _eo-fusion-tmp/ (fusion/storage.py); a killed
  # worker can leave one behind, and every deleted one stays as a noncurrent version.
  lifecycle_rule {
    condition {
      age            = 1
      matches_prefix = ["_eo-fusion-tmp/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
      matches_prefix             = ["_eo-fusion-tmp/"]
    }
    action {
      type = "Delete"
    }
  }

  # Products are written once (deterministic names); only a re-publish makes old versions.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "outputs/"
  }
}

resource "google_storage_bucket" "temp" {
  name                        = local.temp_bucket
  project                     = var.project
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "temp/"
  }
}

resource "google_storage_bucket" "templates" {
  name                        = local.templates_bucket
  project                     = var.project
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "templates/"
  }
}

# Cloud Storage delivers usage logs as this Google group; with uniform bucket-level access it
# needs an IAM grant to create objects in the log bucket (and nothing else).
resource "google_storage_bucket_iam_member" "access_log_delivery" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}

# The Flex Template spec: the image that launches (and runs) the pipeline and its parameters.
resource "google_storage_bucket_object" "template_spec" {
  bucket       = google_storage_bucket.templates.name
  name         = "templates/eo-fusion.json"
  content_type = "application/json"
  content = jsonencode({
    image    = local.image
    sdkInfo  = { language = "PYTHON" }
    metadata = jsondecode(file("${path.module}/../infra/metadata.json"))
    defaultEnvironment = {
      sdkContainerImage = local.image
      tempLocation      = "gs://${google_storage_bucket.temp.name}/tmp"
      stagingLocation   = "gs://${google_storage_bucket.temp.name}/staging"
    }
  })
}

# The scheduled request (period and output are set by the schedule, see scheduler.tf).
resource "google_storage_bucket_object" "request" {
  bucket       = google_storage_bucket.templates.name
  name         = "requests/scheduled.yaml"
  content_type = "application/yaml"
  content      = yamlencode({ for k, v in var.request : k => v if v != null })
}
