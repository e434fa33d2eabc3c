variable "project" {
  description = "GCP project id that hosts everything."
  type        = string
}

variable "region" {
  description = "Region of the buckets, the registry, the Dataflow jobs and the scheduler."
  type        = string
  default     = "europe-west4"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "eo-fusion"
  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{2,20}$", var.name))
    error_message = "name: 3-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "outputs_bucket" {
  description = "Bucket for fused products, their STAC catalog and run reports (default PROJECT-NAME-outputs)."
  type        = string
  default     = ""
}

variable "temp_bucket" {
  description = "Bucket for Dataflow temp and staging files (default PROJECT-NAME-temp)."
  type        = string
  default     = ""
}

variable "templates_bucket" {
  description = "Bucket for the Flex Template spec and the scheduled request (default PROJECT-NAME-templates)."
  type        = string
  default     = ""
}

variable "logs_bucket" {
  description = "Bucket receiving the other buckets' access logs (default PROJECT-NAME-access-logs)."
  type        = string
  default     = ""
}

variable "image_tag" {
  description = "Tag of the eo-fusion image in the Artifact Registry repository (built by infra/cloudbuild.yaml)."
  type        = string
  default     = "0.1.0"
}

variable "schedule" {
  description = "Cron schedule of the fusion run (Cloud Scheduler syntax)."
  type        = string
  default     = "0 6 * * *"
}

variable "time_zone" {
  description = "Time zone the schedule is read in (tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "request" {
  description = <<-EOT
    The scheduled fusion request (fields of fusion.request.FusionRequest, without the period and
    the output, which the schedule sets). `catalog` must be a gs:// static catalog or a STAC URL.
  EOT
  type = object({
    catalog           = string
    aoi               = optional(string)
    tiles             = optional(list(string))
    fine_collection   = optional(string)
    coarse_collection = optional(string)
    epsg              = optional(number)
    tile_size         = optional(number)
    block_size        = optional(number)
  })
}

variable "last_days" {
  description = "Each run processes the last N days (resolved at launch); overlapping windows skip finished products."
  type        = number
  default     = 16
  validation {
    condition     = var.last_days >= 1 && var.last_days <= 366
    error_message = "last_days must be between 1 and 366."
  }
}

variable "lag_days" {
  description = "End the window this many days before the launch date (MODIS composites are published late)."
  type        = number
  default     = 8
}

variable "model_package" {
  description = "Model: a built-in package name (starfm, naive) or the path of a package folder inside the image."
  type        = string
  default     = "starfm"
}

variable "gpu_type" {
  description = "Accelerator per worker (e.g. nvidia-tesla-t4, nvidia-l4), or \"\" for CPU workers."
  type        = string
  default     = "nvidia-tesla-t4"
}

variable "gpu_count" {
  description = "GPUs per worker."
  type        = number
  default     = 1
}

variable "machine_type" {
  description = "Worker machine type; must be able to carry the GPU (n1-* for T4, g2-* for L4)."
  type        = string
  default     = "n1-standard-8"
}

variable "max_workers" {
  description = "Autoscaling cap of each Dataflow job."
  type        = number
  default     = 10
}

variable "subnet_cidr" {
  description = "IP range of the workers' subnetwork."
  type        = string
  default     = "10.80.0.0/20"
}

variable "labels" {
  description = "Labels put on the buckets and the Dataflow jobs."
  type        = map(string)
  default     = { app = "eo-fusion" }
}
