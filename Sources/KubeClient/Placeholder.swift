import Yams; import AsyncHTTPClient; import NIOSSL
