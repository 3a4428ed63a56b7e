import Hummingbird; import OpenAPIHummingbird; import Prometheus; import Configuration; import GantryAPI
