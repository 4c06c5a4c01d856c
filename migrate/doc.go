// Package migrate converts another tool's image update configuration into
// Ferry's: ImagePolicy documents for .ferry/ and the $imagepolicy markers
// that bind each policy to the values it updates, plus the list of what
// could not be mapped and why.
//
// ArgoCDImageUpdater reads Argo CD Image Updater's configuration as it
// stands in a repository: Argo CD Applications annotated with
// argocd-image-updater.argoproj.io/* (v0.x) and ImageUpdater resources
// (argocd-image-updater.argoproj.io/v1alpha1, v1.x). The mapping:
//
//	image-list  alias=repo/image[:constraint]   one ImagePolicy per image and app, named APP-ALIAS
//	update-strategy semver (default)            semver: {range: constraint}; without a constraint
//	                                            every version takes part, prereleases too, as in
//	                                            Argo CD Image Updater (range >=0.0.0-0)
//	update-strategy newest-build (latest)       pushedAt (Ferry orders by push time, which ECR
//	                                            reports; Argo CD Image Updater by build time)
//	update-strategy alphabetical (name)         alphabetical: {order: asc}
//	update-strategy digest                      filterTags.pattern ^TAG$, alphabetical, digest: true
//	allow-tags regexp:RE                        filterTags.pattern RE (any: no filter)
//	ignore-tags glob,glob                       filterTags.exclude, each glob as an anchored expression
//	helm.image-name, helm.image-tag             :name and :tag markers on those keys of the values
//	                                            file (write-back-target helmvalues:FILE, else
//	                                            values.yaml), or of the Application's
//	                                            spec.source.helm.parameters, or of
//	                                            .argocd-source-APP.yaml
//	helm.image-spec                             a whole-image marker on that key
//	kustomize.image-name                        a :tag marker on the images: entry's newTag of the
//	                                            kustomization (write-back-target kustomization:PATH)
//	force-update, pull-secret, platforms,       not mapped: listed with what Ferry does instead
//	write-back-method, git-branch
//
// Each policy's update.paths is exactly the files marked for it, so two
// apps that share an image (staging, production) never update each
// other's files.
package migrate
