package imagebuilder

// Repository is the image repository of deployment deploymentID of tenant tenantID, made of
// these server-side ids only: every image the builder makes for a version of the deployment is
// a tag of it ("<repository>:<content hash>"), and no image of another deployment or tenant is.
// (The dependencies images those are built on are the tenant's, shared by its deployments: tags
// of "faaspot/t-<tenant id>/deps", never run.) A worker runs an image only when it is a tag of
// the repository of the run's own tenant and deployment.
func Repository(tenantID, deploymentID string) string { return repository(tenantID, deploymentID) }
