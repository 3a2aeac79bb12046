#include "pod_manifest.h"

#include <Poco/JSON/Array.h>

#include <sstream>

namespace podterm::plugins::kubernetes {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr obj() {
  return new Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Array::Ptr arr() {
  return new Array();
}

// The host's labels we pass on: invalid ones are dropped rather than refused by the API, and
// ours cannot be overridden.
bool hostLabel(const std::string& key, const std::string& value) {
  return isLabelKey(key) && isLabelValue(value) && key.rfind("podterm.io/", 0) != 0 &&
         key != kManagedByLabel;
}

Object::Ptr metadata(const std::string& name, const PodNames& names, const sdk::PodSpec& spec) {
  auto labels = obj();
  // The host's labels first, so ours win.
  for (const auto& kv : spec.labels) {
    if (hostLabel(kv.first, kv.second)) labels->set(kv.first, kv.second);
  }
  labels->set(kManagedByLabel, std::string(kManagedByValue));
  labels->set(kSessionHashLabel, names.hash);
  auto annotations = obj();
  annotations->set(kSessionIdAnnotation, spec.session_id);
  if (!spec.user.empty()) annotations->set(kUserAnnotation, spec.user);
  if (!spec.workspace.empty()) annotations->set(kWorkspaceAnnotation, spec.workspace);
  auto meta = obj();
  meta->set("name", name);
  meta->set("labels", labels);
  meta->set("annotations", annotations);
  return meta;
}

Object::Ptr seccomp() {
  auto s = obj();
  s->set("type", std::string("RuntimeDefault"));
  return s;
}

Object::Ptr envVar(const std::string& name, const std::string& value) {
  auto e = obj();
  e->set("name", name);
  e->set("value", value);
  return e;
}

Object::Ptr mount(const std::string& name, const std::string& path) {
  auto m = obj();
  m->set("name", name);
  m->set("mountPath", path);
  return m;
}

}  // namespace

Object::Ptr pvcManifest(const KubeSettings& settings, const PodNames& names,
                        const sdk::PodSpec& spec) {
  auto pvc = obj();
  pvc->set("apiVersion", std::string("v1"));
  pvc->set("kind", std::string("PersistentVolumeClaim"));
  pvc->set("metadata", metadata(names.pvc, names, spec));
  auto requests = obj();
  requests->set("storage", settings.pvc_size);
  auto resources = obj();
  resources->set("requests", requests);
  auto modes = arr();
  modes->add(std::string("ReadWriteOnce"));
  auto s = obj();
  s->set("accessModes", modes);
  s->set("resources", resources);
  // No storageClassName means the default class; don't wait for Bound (WaitForFirstConsumer).
  if (!settings.storage_class.empty()) s->set("storageClassName", settings.storage_class);
  pvc->set("spec", s);
  return pvc;
}

Object::Ptr podManifest(const KubeSettings& settings, const PodNames& names,
                        const sdk::PodSpec& spec) {
  const bool restricted = settings.restricted;

  auto pod_security = obj();
  if (restricted) pod_security->set("runAsNonRoot", true);
  pod_security->set("runAsUser", settings.run_as_user);
  pod_security->set("runAsGroup", settings.run_as_user);
  // fsGroup lets the (non-root) user write to a fresh, root-owned volume.
  pod_security->set("fsGroup", settings.run_as_user);
  pod_security->set("fsGroupChangePolicy", std::string("OnRootMismatch"));
  pod_security->set("seccompProfile", seccomp());

  auto container_security = obj();
  container_security->set("allowPrivilegeEscalation", false);
  if (restricted) {
    auto caps = obj();
    auto drop = arr();
    drop->add(std::string("ALL"));
    caps->set("drop", drop);
    container_security->set("capabilities", caps);
    container_security->set("runAsNonRoot", true);
  }
  container_security->set("seccompProfile", seccomp());

  // requests == limits: the pod is in the Guaranteed QoS class.
  auto amounts = [&] {
    auto a = obj();
    a->set("cpu", settings.cpu);
    a->set("memory", settings.memory);
    a->set("ephemeral-storage", settings.ephemeral_storage);
    return a;
  };
  auto resources = obj();
  resources->set("requests", amounts());
  resources->set("limits", amounts());

  auto command = arr();
  command->add(std::string("/bin/sh"));
  command->add(std::string("-c"));
  command->add(std::string(kKeepAliveScript));

  auto env = arr();
  env->add(envVar("TERM", "xterm-256color"));
  env->add(envVar("LANG", "C.UTF-8"));
  env->add(envVar("HOME", kHomePath));

  auto mounts = arr();
  mounts->add(mount("workspace", kWorkspacePath));
  mounts->add(mount("home", kHomePath));

  auto container = obj();
  container->set("name", std::string(kContainerName));
  container->set("image", settings.image);
  container->set("imagePullPolicy", settings.image_pull_policy);
  container->set("workingDir", std::string(kWorkspacePath));
  container->set("command", command);
  container->set("env", env);
  container->set("resources", resources);
  container->set("securityContext", container_security);
  container->set("volumeMounts", mounts);
  auto containers = arr();
  containers->add(container);

  auto volumes = arr();
  auto workspace = obj();
  workspace->set("name", std::string("workspace"));
  if (settings.volume == VolumeMode::Pvc) {
    auto claim = obj();
    claim->set("claimName", names.pvc);
    workspace->set("persistentVolumeClaim", claim);
  } else {
    auto empty = obj();
    empty->set("sizeLimit", settings.pvc_size);
    workspace->set("emptyDir", empty);
  }
  volumes->add(workspace);
  auto home = obj();
  home->set("name", std::string("home"));
  auto home_dir = obj();
  home_dir->set("sizeLimit", std::string("64Mi"));
  home->set("emptyDir", home_dir);
  volumes->add(home);

  auto s = obj();
  s->set("restartPolicy", std::string("Never"));
  s->set("terminationGracePeriodSeconds", 5);
  // Sandboxed code gets no API credentials and no service environment variables.
  s->set("automountServiceAccountToken", false);
  s->set("enableServiceLinks", false);
  s->set("securityContext", pod_security);
  if (!settings.runtime_class.empty()) s->set("runtimeClassName", settings.runtime_class);
  if (!settings.node_selector.empty()) {
    auto selector = obj();
    for (const auto& kv : settings.node_selector) selector->set(kv.first, kv.second);
    s->set("nodeSelector", selector);
  }
  if (!settings.tolerations.empty()) {
    auto tolerations = arr();
    for (const auto& t : settings.tolerations) {
      auto o = obj();
      if (!t.key.empty()) o->set("key", t.key);
      o->set("operator", t.op);
      if (t.op == "Equal") o->set("value", t.value);
      if (!t.effect.empty()) o->set("effect", t.effect);
      tolerations->add(o);
    }
    s->set("tolerations", tolerations);
  }
  s->set("containers", containers);
  s->set("volumes", volumes);

  auto pod = obj();
  pod->set("apiVersion", std::string("v1"));
  pod->set("kind", std::string("Pod"));
  pod->set("metadata", metadata(names.pod, names, spec));
  pod->set("spec", s);
  return pod;
}

namespace {

Object::Ptr poolMetadata(const std::string& name, const std::string& template_hash,
                         const std::string& owner) {
  auto labels = obj();
  labels->set(kManagedByLabel, std::string(kManagedByValue));
  labels->set(kPoolLabel, template_hash);
  // Non-empty, so the claim can add the session's annotations one key at a time (an empty map is
  // not stored, and a JSON patch "add" needs the parent to exist).
  auto annotations = obj();
  annotations->set(kPoolOwnerAnnotation, owner);
  auto meta = obj();
  meta->set("name", name);
  meta->set("labels", labels);
  meta->set("annotations", annotations);
  return meta;
}

Object::Ptr op(const std::string& kind, const std::string& path, const std::string& value,
               bool with_value = true) {
  auto o = obj();
  o->set("op", kind);
  o->set("path", path);
  if (with_value) o->set("value", value);
  return o;
}

}  // namespace

std::string poolTemplateHash(const KubeSettings& settings) {
  sdk::PodSpec none;
  PodNames fixed;
  fixed.pod = "exec-template";
  fixed.pvc = "ws-template";
  auto pod = podManifest(settings, fixed, none);
  std::string text = toJson(pod->getObject("spec"));
  if (settings.volume == VolumeMode::Pvc) {
    text += "|pvc|" + settings.pvc_size + "|" + settings.storage_class;
  }
  return shortHash(text);
}

Object::Ptr poolPodManifest(const KubeSettings& settings, const PodNames& names,
                            const std::string& template_hash, const std::string& owner) {
  sdk::PodSpec none;
  auto pod = podManifest(settings, names, none);
  pod->set("metadata", poolMetadata(names.pod, template_hash, owner));
  return pod;
}

Object::Ptr poolPvcManifest(const KubeSettings& settings, const PodNames& names,
                            const std::string& template_hash, const std::string& owner) {
  sdk::PodSpec none;
  auto pvc = pvcManifest(settings, names, none);
  pvc->set("metadata", poolMetadata(names.pvc, template_hash, owner));
  return pvc;
}

std::string jsonPointerToken(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string claimPatch(const std::string& uid, const std::string& template_hash,
                       const PodNames& session_names, const sdk::PodSpec& spec,
                       int64_t claimed_unix_ms) {
  const std::string labels = "/metadata/labels/";
  const std::string annotations = "/metadata/annotations/";
  const std::string pool = labels + jsonPointerToken(kPoolLabel);
  auto ops = arr();
  ops->add(op("test", "/metadata/uid", uid));
  ops->add(op("test", pool, template_hash));
  ops->add(op("remove", pool, "", false));
  for (const auto& kv : spec.labels) {
    if (hostLabel(kv.first, kv.second)) {
      ops->add(op("add", labels + jsonPointerToken(kv.first), kv.second));
    }
  }
  ops->add(op("add", labels + jsonPointerToken(kSessionHashLabel), session_names.hash));
  ops->add(op("add", annotations + jsonPointerToken(kSessionIdAnnotation), spec.session_id));
  if (!spec.user.empty()) {
    ops->add(op("add", annotations + jsonPointerToken(kUserAnnotation), spec.user));
  }
  if (!spec.workspace.empty()) {
    ops->add(op("add", annotations + jsonPointerToken(kWorkspaceAnnotation), spec.workspace));
  }
  if (claimed_unix_ms > 0) {
    ops->add(op("add", annotations + jsonPointerToken(kClaimedAtAnnotation),
                std::to_string(claimed_unix_ms)));
  }
  std::ostringstream out;
  ops->stringify(out);
  return out.str();
}

std::string toJson(const Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

}  // namespace podterm::plugins::kubernetes
