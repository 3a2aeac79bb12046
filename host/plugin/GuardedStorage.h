#pragma once
// A Storage whose plugin exceptions become Status(Internal, "plugin <name> threw: <what>").

#include <memory>
#include <string>

#include "plugin/Guard.h"
#include "podterm/storage.h"

namespace podterm::host {

class GuardedStorage final : public sdk::Storage {
 public:
  GuardedStorage(std::shared_ptr<sdk::Storage> inner, std::string plugin);

  sdk::Result<std::vector<sdk::ItemMeta>> listManifest(const sdk::WorkspaceId& ws) override;
  sdk::Result<std::string> readContent(const sdk::WorkspaceId& ws,
                                       const std::string& path) override;
  sdk::Status applyBatch(const sdk::WorkspaceId& ws,
                         const std::vector<sdk::ItemChange>& changes) override;

 private:
  std::shared_ptr<sdk::Storage> inner_;
  std::string plugin_;
};

}  // namespace podterm::host
