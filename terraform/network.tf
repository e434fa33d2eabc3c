# Workers have no public IPs: a dedicated subnetwork with Private Google Access reaches Google
# APIs (GCS, Artifact Registry), Cloud NAT reaches public STAC APIs, and the firewall lets
# Dataflow workers talk to each other (shuffle/data ports 12345-12346) and nothing else in.

resource "google_compute_network" "workers" {
  project                 = var.project
  name                    = "${var.name}-workers"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

resource "google_compute_subnetwork" "workers" {
  project                  = var.project
  name                     = "${var.name}-workers"
  region                   = var.region
  network                  = google_compute_network.workers.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_firewall" "dataflow_internal" {
  project   = var.project
  name      = "${var.name}-dataflow-internal"
  network   = google_compute_network.workers.id
  direction = "INGRESS"
  priority  = 1000

  allow {
    protocol = "tcp"
    ports    = ["12345-12346"]
  }

  # Dataflow tags its worker VMs "dataflow".
  source_tags = ["dataflow"]
  target_tags = ["dataflow"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "nat" {
  project = var.project
  name    = "${var.name}-nat"
  region  = var.region
  network = google_compute_network.workers.id
}

resource "google_compute_router_nat" "nat" {
  project                            = var.project
  name                               = "${var.name}-nat"
  router                             = google_compute_router.nat.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.workers.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}
