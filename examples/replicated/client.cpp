// client.cpp - lsmt_raft_client: sends requests to a cluster of lsmt_raft_node processes.
//
//   lsmt_raft_client --nodes 127.0.0.1:10001,127.0.0.1:10002,127.0.0.1:10003 [REQUEST...]
//
// --nodes lists the nodes' client addresses (each node's Raft port + 1000). With a REQUEST
// (for example `put k v`, `get k`, `del k`, `scan`, `status`) it sends that one request to the
// leader and prints the answer; without one it reads requests from stdin, one per line.
// client.hpp lists the requests. Exits 0 if every request was answered without ERR, 1 if not,
// 2 on bad arguments.
#include "client.hpp"

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

bool run(replicated::cluster_client& cluster, const std::string& line) {
  const auto answer = cluster.send(line, std::chrono::seconds(10));
  if (!answer) {
    std::cout << "ERR no leader answered within 10 s\n";
    return false;
  }
  for (const std::string& l : *answer) std::cout << l << "\n";
  return answer->front().rfind("ERR", 0) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> nodes;
  std::string request;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nodes" && i + 1 < argc) {
      std::istringstream in(argv[++i]);
      std::string address;
      while (std::getline(in, address, ',')) nodes.push_back(address);
    } else {
      request += (request.empty() ? "" : " ") + a;
    }
  }
  if (nodes.empty()) {
    std::cerr << "usage: lsmt_raft_client --nodes HOST:PORT[,HOST:PORT...] [REQUEST...]\n";
    return 2;
  }
  try {
    replicated::cluster_client cluster(nodes);
    if (!request.empty()) return run(cluster, request) ? 0 : 1;
    bool ok = true;
    std::string line;
    while (std::getline(std::cin, line))
      if (!line.empty()) ok = run(cluster, line) && ok;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "lsmt_raft_client: " << e.what() << "\n";
    return 2;
  }
}
