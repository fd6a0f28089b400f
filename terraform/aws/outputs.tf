output "coordinator_url" {
  description = "The Stressgrid website and API (reachable from management_cidr only)."
  # The public address: a VPC without DNS hostnames gives no public DNS name.
  value = "http://${aws_instance.coordinator.public_ip}:8000"
}

output "token" {
  description = "STRESSGRID_TOKEN of the website, the API and sgcli: `terraform output -raw token`."
  value       = random_password.token.result
  sensitive   = true
}
