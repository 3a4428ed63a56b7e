import ArgumentParser
import GantryServer
@main struct Gantry { static func main() async throws {} }
