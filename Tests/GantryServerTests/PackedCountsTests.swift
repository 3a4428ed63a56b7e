@testable import GantryStorage
import Testing

/// The ten numbers of a stats card travel as one text column (SQLProjectRepository.packedCounts).
@Suite("Packed stats counts")
struct PackedCountsTests {
    @Test("Comma-separated whole numbers read back in order")
    func readsNumbers() {
        #expect(SQLProjectRepository.unpackCounts("5,20,0,3,17,0,0,0,0,0") == [5, 20, 0, 3, 17, 0, 0, 0, 0, 0])
        #expect(SQLProjectRepository.unpackCounts("0") == [0])
        #expect(SQLProjectRepository.unpackCounts("123456789,1") == [123_456_789, 1])
    }

    @Test("Anything else reads as no counts, which the repository refuses", arguments: ["", ",", "1,", ",1", "1,,2", "1,-2", "1, 2", "x", "1.5", "1234567890123456789"])
    func refusesMalformed(_ packed: String) {
        #expect(SQLProjectRepository.unpackCounts(packed) == [])
    }
}
