mod http;
mod sandbox;
