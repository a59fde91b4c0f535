mod http;
mod people_salesforce;
mod people_zoho;
mod sandbox;
