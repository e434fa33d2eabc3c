terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    # Exact pin: `terraform init` records its checksums in .terraform.lock.hcl (commit that file).
    google = {
      source  = "hashicorp/google"
      version = "= 6.8.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}
