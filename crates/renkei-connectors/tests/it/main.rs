mod http;
mod people_hubspot;
mod sandbox;
