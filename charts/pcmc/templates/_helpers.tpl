{{/* Each object of a manifests/ or config/rbac/ file, with the changes every object gets: the
release namespace for namespaced objects and for ServiceAccount subjects. Called with
(list $ "files/...yaml"); yields a YAML list of objects for fromYamlArray. */}}
{{- define "pcmc.objects" -}}
{{- $root := index . 0 -}}
{{- $objects := list -}}
{{- range $doc := splitList "\n---\n" ($root.Files.Get (index . 1)) -}}
{{- $o := fromYaml $doc -}}
{{- if $o -}}
{{- if $o.metadata.namespace -}}
{{- $_ := set $o.metadata "namespace" $root.Release.Namespace -}}
{{- end -}}
{{- range $s := $o.subjects -}}
{{- if eq $s.kind "ServiceAccount" -}}
{{- $_ := set $s "namespace" $root.Release.Namespace -}}
{{- end -}}
{{- end -}}
{{- $objects = append $objects $o -}}
{{- end -}}
{{- end -}}
{{- toYaml $objects -}}
{{- end -}}

{{/* The leader-election and log flags that differ from the programs' defaults. */}}
{{- define "pcmc.controllerFlags" -}}
{{- $le := .Values.controller.leaderElection -}}
{{- $flags := list -}}
{{- if not $le.enabled }}{{ $flags = append $flags "--leader-elect=false" }}{{ end -}}
{{- with $le.leaseDuration }}{{ $flags = append $flags (printf "--leader-elect-lease-duration=%s" .) }}{{ end -}}
{{- with $le.renewDeadline }}{{ $flags = append $flags (printf "--leader-elect-renew-deadline=%s" .) }}{{ end -}}
{{- with $le.retryPeriod }}{{ $flags = append $flags (printf "--leader-elect-retry-period=%s" .) }}{{ end -}}
{{- with .Values.logLevel }}{{ $flags = append $flags (printf "--log-level=%s" .) }}{{ end -}}
{{- toYaml (concat $flags .Values.controller.extraArgs) -}}
{{- end -}}
