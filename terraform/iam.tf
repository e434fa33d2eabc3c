# Two service accounts, no keys:
# - the worker account runs the Dataflow workers and the Flex Template launcher;
# - the scheduler account may launch Dataflow jobs and act as the worker account, nothing more.

resource "google_service_account" "worker" {
  project      = var.project
  account_id   = "${var.name}-worker"
  display_name = "eo-fusion Dataflow workers"
  depends_on   = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  project      = var.project
  account_id   = "${var.name}-scheduler"
  display_name = "eo-fusion Cloud Scheduler launcher"
  depends_on   = [google_project_service.apis]
}

# --- worker ---------------------------------------------------------------------------------

resource "google_project_iam_member" "worker_dataflow" {
  project = var.project
  role    = "roles/dataflow.worker"
  member  = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_outputs" {
  bucket = google_storage_bucket.outputs.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_temp" {
  bucket = google_storage_bucket.temp.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_templates" {
  bucket = google_storage_bucket.templates.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_artifact_registry_repository_iam_member" "worker_images" {
  project    = var.project
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.worker.email}"
}

# --- scheduler ------------------------------------------------------------------------------

# Creating a Dataflow job needs a project-level permission. The predefined dataflow.developer
# role would also let the account cancel, update and snapshot every job; this custom role holds
# only what a launch uses.
resource "google_project_iam_custom_role" "launcher" {
  project     = var.project
  role_id     = "${replace(var.name, "-", "_")}_launcher"
  title       = "eo-fusion launcher"
  description = "Launch the eo-fusion Flex Template and read back the job it created."
  permissions = [
    "dataflow.jobs.create",
    "dataflow.jobs.get",
    "dataflow.jobs.list",
    "resourcemanager.projects.get",
  ]
}

resource "google_project_iam_member" "scheduler_dataflow" {
  project = var.project
  role    = google_project_iam_custom_role.launcher.name
  member  = "serviceAccount:${google_service_account.scheduler.email}"
}

# Acting as the worker account is granted on that one account, not project-wide.
resource "google_service_account_iam_member" "scheduler_acts_as_worker" {
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.scheduler.email}"
}

# The launch reads the template spec object.
resource "google_storage_bucket_iam_member" "scheduler_templates" {
  bucket = google_storage_bucket.templates.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.scheduler.email}"
}
